"""Password logins: checking a password, and the growing delay after failures.

A failed password or TOTP attempt counts in the registry (so every replica sees it) under
three keys (:func:`login_keys`):

- ``addr:<address>``: the client address (:func:`~collector.web.throttle.client_address`),
  across every login name: one source guessing many accounts;
- ``user:<name>``: the login name, across every source: many sources guessing one account;
- ``pair:<name>|<address>``: that name from that source.

A name no user has is kept as a digest (:func:`name_key`): it may be a password typed into the
wrong field.

Which delays apply to an attempt (:func:`delay_refusal`):

- the address's, always;
- the pair's, always;
- the account's **only for a source that has itself failed on that account recently** (its pair
  has a live count). A source with no failures for the account is never held back by the
  account's count: whoever guesses wrong on purpose, from anywhere, cannot keep the reviewer
  out of their own account, because the reviewer's browser has not failed. Distributed
  guessing still meets the account's delay after each source's first failure, and every source
  its own.

A success clears the pair only: the address's count is every login name's at that address
(clearing it would let anyone with one valid account wash out their guessing at others), and
the account's count is every source's. An attempt inside a delay is refused (429,
``Retry-After``) without checking the password and is not counted; refusing instead of
sleeping keeps no server worker waiting, as the token throttle does (collector/web/throttle.py).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import threading

from collector.accounts import DelayRule, hash_password, needs_rehash, verify_password
from collector.registry import User
from collector.registry.accounts import Account
from collector.registry.core import utc_now
from collector.web.problems import Problem
from collector.web.settings import WebSettings
from collector.web.state import WebState
from collector.web.throttle import retry_after_s

__all__ = [
    "check_password",
    "delay_refusal",
    "delay_rule",
    "login_failed",
    "login_keys",
    "login_succeeded",
]

log = logging.getLogger(__name__)

#: Login names longer than this are cut in keys and the audit (they cannot exist anyway).
_NAME_CHARS = 64
#: Password checks at once in this process. Each takes 64 MiB and about a core for half a
#: second (argon2id, collector/accounts/passwords.py); the server's thread pool (40 threads)
#: could otherwise hold 2.5 GB in a burst of logins. Further checks wait their turn.
_HASHING = threading.BoundedSemaphore(2)


def delay_rule(settings: WebSettings) -> DelayRule:
    """The delay rule of ``web.login_delay_*``."""
    return DelayRule(
        free=settings.login_delay_free,
        base_s=settings.login_delay_base_s,
        max_s=settings.login_delay_max_s,
        forget_s=settings.login_delay_forget_s,
    )


def login_keys(address: str, name: str) -> tuple[str, str, str]:
    """(address key, account key, pair key) of an attempt with the name as :func:`name_key`
    gives it."""
    return f"addr:{address}", f"user:{name}", f"pair:{name}|{address}"


def name_key(state: WebState, typed: str) -> str:
    """A login name as keys and the audit keep it: as typed if such a user exists, else
    ``#`` and 16 hex digits of its SHA-256.

    People type their password into the name field; what they typed must not land in the
    audit log or the registry's tables. The digest still tells one unknown name from another.
    """
    name = typed[:_NAME_CHARS]
    if name and state.registry.user(name) is not None:
        return name
    return "#" + hashlib.sha256(typed.encode("utf-8")).hexdigest()[:16]


def delay_refusal(state: WebState, address: str, user_id: str) -> Problem | None:
    """The 429 to answer if this attempt falls inside a delay that applies to it, else None."""
    rule = delay_rule(state.settings)
    address_key, account_key, pair_key = login_keys(address, name_key(state, user_id))
    now = utc_now()
    waits = state.registry.login_waits([address_key, account_key, pair_key], rule, now=now)
    applies = {key: until for key, until in waits.items() if key != account_key}
    if account_key in waits and state.registry.login_failure_counts([pair_key], rule, now=now):
        applies[account_key] = waits[account_key]
    if not applies:
        return None
    state.metrics.count(state.metrics.auth_failures, "delayed")
    return _refusal(max(applies.values()), now)


def _refusal(until: dt.datetime, now: dt.datetime) -> Problem:
    after = retry_after_s(until, now)
    return Problem(
        429,
        f"too many failed logins for this name or from your address; try again in {after} s",
        kind="too-many-logins",
        headers={"Retry-After": str(after)},
        extra={"retry_after_s": after},
    )


def check_password(state: WebState, user_id: str, password: str) -> tuple[User, Account] | None:
    """The user and their password login if ``password`` is theirs; None otherwise.

    An unknown, disabled or token-only user is checked against a decoy hash, so that a name
    cannot be told from a wrong password by the time it takes.
    """
    user = state.registry.user(user_id[:_NAME_CHARS]) if user_id else None
    account = None
    if user is not None and not user.disabled:
        account = state.registry.account(user.user_id)
    stored = None if account is None else account.password_hash
    with _HASHING:
        matches = verify_password(stored, password)
        if matches and account is not None and needs_rehash(account.password_hash):
            # The password is at hand only now: hash it again with today's parameters.
            renewed = hash_password(password)
            state.registry.rehash_password(account.user_id, account.password_hash, renewed)
    if not matches or user is None or account is None:
        return None
    return user, account


def login_failed(state: WebState, address: str, user_id: str, via: str) -> int:
    """Count and audit a failed attempt; the seconds this source must now wait (0: none)."""
    rule = delay_rule(state.settings)
    name = name_key(state, user_id)
    keys = login_keys(address, name)
    known = not name.startswith("#")
    now = utc_now()
    after = state.registry.record_password_failure(
        keys,
        rule,
        subject=f"user:{name}" if known else f"login:{address}",
        detail={"address": address, "user_id": name, "via": via, "known_user": known},
        now=now,
    )
    state.metrics.count(state.metrics.auth_failures, "bad_password")
    until = max(after.values())
    return 0 if until <= now else retry_after_s(until, now)


def login_succeeded(state: WebState, address: str, user_id: str) -> None:
    """Forget this source's failures for this account (the pair key only)."""
    _, _, pair_key = login_keys(address, user_id)  # a user that exists: named as typed
    state.registry.clear_login_failures([pair_key])
