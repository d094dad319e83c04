"""``delivery``: whether the agent keeps each batch until the collector confirms it stored.

A PUBACK says only that the broker has a batch; a broker that crashes between snapshots while
InfluxDB is down loses it (#19). With confirmations the agent keeps each batch, after its
PUBACK, until a confirmation signed by a pinned collector key names its seq, and sends it
again (same seq, same bytes: a duplicate to the collector) when none came within
``resend_after_s``. docs/wire-contract.md, "Delivery confirmation".

``confirm``:

- ``off`` (the default): a PUBACK is enough, as before #19. The default because a collector
  sends confirmations only once it has a confirmation key; an agent that waited for them
  from a collector that sends none would re-send every batch forever.
- ``auto``: as ``off`` until the first valid confirmation arrives (remembered in the outbox
  file), then as ``required``: the safe setting for a fleet whose collectors are upgraded one
  by one.
- ``required``: every batch is kept until confirmed, from the start.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, model_validator

from contract.configfile.types import ConfigModel, IssueList, int_range, problem
from contract.wire import public_key_from_text

__all__ = ["DeliveryConfig"]


def _collector_key(text: str) -> str:
    try:
        public_key_from_text(text)
    except ValueError as exc:
        raise problem(
            f"{exc}: expected the collector confirmation key's public key, as "
            "`retrofit-collector confirmation-key show` prints it (ed25519:<base64>)"
        ) from None
    return text.strip()


class DeliveryConfig(ConfigModel):
    """How the agent knows a batch is delivered: the broker's PUBACK, or the collector's
    signed confirmation that it is stored."""

    confirm: Literal["off", "auto", "required"] = "off"
    #: The collector confirmation keys' public halves (more than one while a key rotates).
    collector_keys: tuple[Annotated[str, AfterValidator(_collector_key)], ...] = ()
    #: A batch the broker acknowledged and the collector has not confirmed within this long
    #: is sent again.
    resend_after_s: Annotated[int, int_range(5, 86_400, "s")] = 300
    #: Batches kept awaiting confirmation at most: past it no new batch is sealed, so windows
    #: wait in the outbox as pending rows, under its full-outbox policy (merge, then drop).
    max_awaiting_batches: Annotated[int, int_range(1, 1_000_000, "batches")] = 1000

    @model_validator(mode="after")
    def _keys_when_confirming(self) -> DeliveryConfig:
        issues = IssueList("DeliveryConfig")
        if self.confirm != "off" and not self.collector_keys:
            issues.add(
                ("collector_keys",),
                None,
                f"missing, required when confirm is {self.confirm}: no confirmation could be "
                "verified without the collector's public key",
            )
        issues.raise_if_any()
        return self
