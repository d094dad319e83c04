"""TOTP secrets between the login pages and the registry: sealed when stored, opened when a
code is checked, sealed anew with the current key when a user logs in with an older one
(collector/accounts/sealing.py; docs/web.md, "TOTP secrets at rest")."""

from __future__ import annotations

import logging

from collector.accounts import TotpKeyError, needs_reseal
from collector.registry.accounts import Account
from collector.web.state import WebState

__all__ = ["can_enrol", "store_totp", "totp_secret"]

log = logging.getLogger(__name__)


def can_enrol(state: WebState) -> bool:
    """Whether a second factor can be enrolled: only with a key to seal it
    (``web.totp_key_path``)."""
    return state.totp_sealer is not None


def store_totp(state: WebState, user_id: str, secret: str, step: int) -> None:
    """Store ``secret`` sealed (its first code's ``step`` used); TotpKeyError without a key."""
    if state.totp_sealer is None:
        raise TotpKeyError("web.totp_key_path is not set: TOTP secrets would be stored in clear")
    sealed = state.totp_sealer.seal(secret, user_id)
    state.registry.set_totp(user_id, sealed, step=step, by=user_id)


def totp_secret(state: WebState, account: Account) -> str | None:
    """The account's TOTP secret, opened; None if it has none or it cannot be opened (logged:
    the key that sealed it is missing, or the row was changed). A plain secret or one sealed
    with an older key is sealed again with the current one."""
    stored = account.totp_secret
    if stored is None:
        return None
    sealer = state.totp_sealer
    if sealer is None:
        if stored.startswith("totp1:"):
            log.error("TOTP of %s is sealed but web.totp_key_path is not set", account.user_id)
            return None
        return stored  # from before sealing, and no key to seal it with yet
    try:
        secret = sealer.open(stored, account.user_id)
    except TotpKeyError as exc:
        log.error("TOTP secret not usable: %s", exc)
        return None
    if needs_reseal(stored, sealer):
        state.registry.reseal_totp(account.user_id, stored, sealer.seal(secret, account.user_id))
    return secret
