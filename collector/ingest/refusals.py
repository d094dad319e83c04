"""Why a received message goes to the quarantine, and the identity check every kind shares.

:class:`Refused` carries the quarantine's reason code and its detail; :func:`checked_identity`
is the rule windows, status messages and day seals all pass: topic = payload identity =
registry entry, key not revoked when we received it.
"""

from __future__ import annotations

import datetime as dt

from collector.ingest.registry_calls import AgentIdentity
from contract import wire

__all__ = ["Refused", "checked_identity"]


class Refused(Exception):
    """A message that goes to the quarantine: ``code`` is the reason, the text its detail."""

    def __init__(self, code: str, detail: str) -> None:
        self.code = code
        super().__init__(detail)


def checked_identity(
    address: wire.TopicAddress,
    message: wire.ReceivedEnvelope | wire.StatusMessage | wire.DaySeal,
    entry: AgentIdentity | None,
    received_at: dt.datetime,
) -> AgentIdentity:
    """Topic = payload identity = registry ``entry``, key not revoked; raises Refused."""
    said = (message.platform, message.enterprise, message.agent)
    if said != (address.platform, address.enterprise, address.agent):
        raise Refused(
            "identity_mismatch",
            f"payload says {'/'.join(said)}, topic says "
            f"{address.platform}/{address.enterprise}/{address.agent}",
        )
    if entry is None:
        raise Refused("unknown_agent", f"agent {message.agent} is not registered")
    if (entry.platform, entry.enterprise) != (message.platform, message.enterprise):
        raise Refused(
            "identity_mismatch",
            f"agent {message.agent} is registered to {entry.platform}/{entry.enterprise}",
        )
    # Revocation is judged by when *we* received the message: the agent's own clock (sent)
    # is exactly what a stolen key would forge.
    if entry.revoked_as_of(received_at):
        raise Refused("revoked_key", f"agent {message.agent}'s key is revoked")
    return entry
