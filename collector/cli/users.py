"""``retrofit-collector users``: the web app's users and their access tokens.

:func:`register` adds the group to the collector's Typer app. Every command takes
the collector's configuration, ``--config PATH`` (or ``RV_COLLECTOR_CONFIG``), and works on
the registry it names (the old ``--registry PATH`` still works, with a warning); every change
takes ``--by`` (kept in the audit log).
Exit codes as for ``plan``: 0 done, 1 refused (conflict, not found, bad value), 2 the registry
cannot be opened. A token is printed once, when it is made; the registry keeps only its hash.

``password`` and ``reset`` give a person a temporary password for the login form (printed
once; the registry keeps its argon2id hash) that must be changed at the first login with it;
``reset`` also ends the user's password sessions and, with ``--remove-totp``, their second
factor (a lost phone). docs/operations.md, "Accounts". ``totp-key`` writes the key TOTP
secrets are sealed with at rest (``web.totp_key_path``); ``totp-reseal`` seals every secret
with it at once (after an upgrade, or to finish a key rotation).
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Annotated

import typer

from collector.cli._common import (
    DEFAULT_CONFIG,
    ByOption,
    ConfigOption,
    RegistryOption,
    console,
    count,
    load_config,
    open_registry,
    refuse,
    registry_path,
)
from collector.errors import CollectorError
from collector.registry import RegistryLocation
from collector.registry.accounts import Account
from collector.registry.records import format_time
from contract.terminal import say

__all__ = ["register"]

users_app = typer.Typer(
    help="Users of the web app (admin, platform, reviewer, observer) and their tokens."
)


@users_app.command("add")
def users_add(
    user_id: Annotated[str, typer.Argument(help="Login name, e.g. li.shenhe or 李审核.")],
    name: Annotated[str, typer.Option("--name", help="Display name shown on pages.")],
    role: Annotated[str, typer.Option("--role", help="admin, platform, reviewer or observer.")],
    by: ByOption,
    platform: Annotated[
        str | None, typer.Option("--platform", help="Platform id (role platform only).")
    ] = None,
    province: Annotated[
        str | None,
        typer.Option("--province", help="Province code (reviewer/observer; none: national)."),
    ] = None,
    config: ConfigOption = DEFAULT_CONFIG,
    registry: RegistryOption = None,
) -> None:
    """Create a user with a role and scope (see docs/web.md, "Roles and scopes")."""
    with open_registry(registry_path(config, registry)) as store:
        try:
            user = store.add_user(
                user_id,
                display_name=name,
                role=role,
                platform=platform,
                province=province,
                by=by,
            )
        except (CollectorError, ValueError) as exc:
            raise refuse(exc) from None
    scope = user.platform or user.province or "national"
    say(console, f"user {user.user_id} ({user.role}, {scope}) added by {user.created_by}")


@users_app.command("token")
def users_token(
    user_id: Annotated[str, typer.Argument(help="The user to issue a token to.")],
    by: ByOption,
    label: Annotated[str, typer.Option("--label", help="What the token is for.")] = "token",
    days: Annotated[
        int | None, typer.Option("--days", help="Valid for this many days (default: no end).")
    ] = None,
    config: ConfigOption = DEFAULT_CONFIG,
    registry: RegistryOption = None,
) -> None:
    """Issue an access token; it is printed once and only its SHA-256 is kept."""
    with open_registry(registry_path(config, registry)) as store:
        try:
            issued = store.issue_token(user_id, label=label, by=by, valid_days=days)
        except (CollectorError, ValueError) as exc:
            raise refuse(exc) from None
    until = "no expiry" if issued.entry.expires_at is None else format_time(issued.entry.expires_at)
    say(console, f"token {issued.entry.token_id} for {user_id} ({until}); shown once:")
    # The token alone on the last line, so scripts can take it with `tail -n 1`.
    say(console, issued.text)


@users_app.command("revoke-token")
def users_revoke_token(
    token_id: Annotated[str, typer.Argument(help="Token id (the 12 hex digits after rvt_).")],
    by: ByOption,
    config: ConfigOption = DEFAULT_CONFIG,
    registry: RegistryOption = None,
) -> None:
    """Revoke a token: requests and page sessions with it stop at once."""
    with open_registry(registry_path(config, registry)) as store:
        try:
            entry = store.revoke_token(token_id, by=by)
        except (CollectorError, ValueError) as exc:
            raise refuse(exc) from None
    say(console, f"token {entry.token_id} of {entry.user_id} revoked by {entry.revoked_by}")


@users_app.command("disable")
def users_disable(
    user_id: Annotated[str, typer.Argument(help="The user to disable.")],
    by: ByOption,
    reason: Annotated[str, typer.Option("--reason", help="Why (kept in the audit).")],
    config: ConfigOption = DEFAULT_CONFIG,
    registry: RegistryOption = None,
) -> None:
    """Disable a user: every token and session of theirs stops working (the row stays)."""
    with open_registry(registry_path(config, registry)) as store:
        try:
            user = store.disable_user(user_id, by=by, reason=reason)
        except (CollectorError, ValueError) as exc:
            raise refuse(exc) from None
    say(console, f"user {user.user_id} disabled by {user.disabled_by}")


def temporary_password() -> str:
    """A one-time password: 20 base32 characters (100 bits) in groups of five."""
    alphabet = "abcdefghijkmnpqrstuvwxyz23456789"  # no l, o, 0, 1: read aloud or retyped
    text = "".join(secrets.choice(alphabet) for _ in range(20))
    return "-".join(text[i : i + 5] for i in range(0, 20, 5))


def _give_password(
    store_path: RegistryLocation, user_id: str, by: str, *, reset: bool, remove_totp: bool
) -> str:
    from collector.accounts import hash_password, password_problems  # argon2: on use only

    password = temporary_password()
    problems = password_problems(password, user_id)
    if problems:  # pragma: no cover - 23 characters of random text
        raise refuse(ValueError(problems[0].message))
    with open_registry(store_path) as store:
        try:
            if not reset and store.account(user_id) is not None:
                raise refuse(
                    ValueError(f"{user_id} has a password already: use users reset {user_id}")
                )
            store.set_password(
                user_id, hash_password(password), must_change=True,
                why="reset" if reset else "set", by=by,
            )  # fmt: skip
            if remove_totp:
                store.set_totp(user_id, None, by=by, reason="removed at a password reset")
        except (CollectorError, ValueError) as exc:
            raise refuse(exc) from None
    return password


@users_app.command("password")
def users_password(
    user_id: Annotated[str, typer.Argument(help="The user to give a password login to.")],
    by: ByOption,
    config: ConfigOption = DEFAULT_CONFIG,
    registry: RegistryOption = None,
) -> None:
    """Give a user a password login: a temporary password, changed at their first login."""
    password = _give_password(
        registry_path(config, registry), user_id, by, reset=False, remove_totp=False
    )
    say(console, f"temporary password for {user_id}, to change at the first login; shown once:")
    say(console, password)


@users_app.command("reset")
def users_reset(
    user_id: Annotated[str, typer.Argument(help="The user whose password is reset.")],
    by: ByOption,
    remove_totp: Annotated[
        bool, typer.Option("--remove-totp", help="Also remove the second factor (lost phone).")
    ] = False,
    config: ConfigOption = DEFAULT_CONFIG,
    registry: RegistryOption = None,
) -> None:
    """Reset a password: a temporary one, to change at the next login; sessions end."""
    password = _give_password(
        registry_path(config, registry), user_id, by, reset=True, remove_totp=remove_totp
    )
    extra = " and second factor removed" if remove_totp else ""
    say(console, f"password of {user_id} reset{extra}; temporary password, shown once:")
    say(console, password)


@users_app.command("list")
def users_list(config: ConfigOption = DEFAULT_CONFIG, registry: RegistryOption = None) -> None:
    """List users with role, scope, state, their tokens (ids only, never secrets) and
    whether they have a password (to change at next login or not) and TOTP."""
    with open_registry(registry_path(config, registry)) as store:
        users = store.users()
        tokens = store.tokens()
        accounts = {user.user_id: store.account(user.user_id) for user in users}
    for user in users:
        state = "disabled" if user.disabled else "active"
        scope = user.platform or user.province or "national"
        own = [t for t in tokens if t.user_id == user.user_id]
        shown = (
            ", ".join(t.token_id + (" (revoked)" if t.revoked_at else "") for t in own)
            or "no token"
        )
        say(
            console,
            f"{user.user_id}  {user.display_name}  {user.role}  {scope}  {state}  tokens: {shown}"
            f"  password: {_password_state(accounts[user.user_id])}",
        )
    say(console, count(len(users), "user"))


@users_app.command("totp-key")
def users_totp_key(
    path: Annotated[Path, typer.Argument(help="Where to write the new key (mode 0600).")],
) -> None:
    """Write a new key to seal TOTP secrets with (32 random bytes, base64, mode 0600); name it
    in web.totp_key_path. An existing file is never overwritten (rotation: docs/web.md)."""
    from collector.accounts import TotpKeyError, write_totp_key

    try:
        key_id = write_totp_key(path)
    except TotpKeyError as exc:
        raise refuse(exc) from None
    say(console, f"wrote TOTP key {key_id} to {path} (mode 0600); set web.totp_key_path: {path}")


@users_app.command("totp-reseal")
def users_totp_reseal(config: ConfigOption = DEFAULT_CONFIG) -> None:
    """Seal every TOTP secret with web.totp_key_path now: those stored in clear (before
    sealing) and those sealed with a key of web.totp_previous_key_paths (rotation). Each is
    audited as account.totp_reseal; a secret no key listed opens is named, and exit 1."""
    from collector.accounts import TotpKeyError, TotpSealer, needs_reseal

    settings = load_config(config)
    web = settings.web
    if web.totp_key_path is None:
        raise refuse(ValueError(f"{config}: web.totp_key_path is not set: nothing to seal with"))
    try:
        sealer = TotpSealer.from_files(web.totp_key_path, web.totp_previous_key_paths)
    except TotpKeyError as exc:
        raise refuse(exc) from None
    resealed, stuck = 0, []
    with open_registry(settings.registry) as store:
        for user in store.users():
            account = store.account(user.user_id)
            stored = None if account is None else account.totp_secret
            if stored is None or not needs_reseal(stored, sealer):
                continue
            try:
                secret = sealer.open(stored, user.user_id)
            except TotpKeyError as exc:
                stuck.append(str(exc))
                continue
            resealed += store.reseal_totp(user.user_id, stored, sealer.seal(secret, user.user_id))
    say(console, f"sealed {count(resealed, 'TOTP secret')} with key {sealer.key_id}")
    for problem in stuck:
        say(console, problem, "red")
    if stuck:
        raise typer.Exit(1)


def _password_state(account: Account | None) -> str:
    if account is None:
        return "none"
    state = "to change at next login" if account.must_change else "set"
    return state + (", TOTP" if account.has_totp else "")


def register(app: typer.Typer) -> None:
    """Add the ``users`` command group to ``app``."""
    app.add_typer(users_app, name="users")
