"""The delivery confirmation: the collector's signed word that it has stored an agent's seqs.

Models only, like :mod:`contract.wire._messages` (whose signed header it shares: ``agent`` is
the agent the confirmation is *for*); :mod:`contract.wire._signing` seals and verifies it with
the collector's confirmation key, not an agent's. ``docs/wire-contract.md`` ("Delivery
confirmation") says what an agent may do on one (#19).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import (
    Field,
    SerializationInfo,
    SerializerFunctionWrapHandler,
    model_serializer,
    model_validator,
)

from contract.wire._limits import MAX_CONFIRMED_RANGES, MAX_SEQ
from contract.wire._messages import _Signed, _WireModel
from contract.wire._rules import check_confirmed

__all__ = ["REFUSAL_REASON_PATTERN", "Confirmation", "Refusal", "SeqRange"]

Seq = Annotated[int, Field(ge=1, le=MAX_SEQ)]

#: A refusal's reason: the collector's quarantine reason code (``replay``, ``seal_conflict``).
REFUSAL_REASON_PATTERN = r"^[a-z][a-z0-9_]{0,39}$"


class SeqRange(_WireModel):
    """The seqs ``first..last``, both included."""

    first: Seq
    last: Seq


class Refusal(_WireModel):
    """The seqs ``first..last`` the collector will never store, and why (its quarantine code)."""

    first: Seq
    last: Seq
    reason: Annotated[str, Field(pattern=REFUSAL_REASON_PATTERN)]


Refusals = Annotated[list[Refusal], Field(min_length=1, max_length=MAX_CONFIRMED_RANGES)]


class Confirmation(_Signed):
    """The collector confirms to one agent the seqs it has stored, and those it refused for
    good: ``{kind: "confirmation", v, platform, enterprise, agent, sent, stored[{first, last}],
    refused[{first, last, reason}], sig}``.

    Stored means written to InfluxDB with the seq recorded in the registry (a duplicate that
    was stored before counts). Refused means kept in the collector's quarantine, signature
    verified under the agent's registered key, for a reason that the same bytes sent again can
    never change (``replay``, ``seal_conflict``): docs/wire-contract.md. ``stored`` is
    ascending, merged ranges (it may be empty when ``refused`` is not); ``refused`` is
    absent-is-null (left out when there is none). A confirmation names only seqs newly
    stored or refused since the last one, so an agent keeps no state of it beyond deleting
    those batches.
    """

    kind: Literal["confirmation"]
    stored: Annotated[list[SeqRange], Field(max_length=MAX_CONFIRMED_RANGES)]
    refused: Refusals | None = None

    @model_serializer(mode="wrap")
    def _leave_out_absent(
        self, handler: SerializerFunctionWrapHandler, info: SerializationInfo
    ) -> dict[str, object]:
        # No refusal is written by leaving ``refused`` out: a confirmation of stored seqs only
        # is the same bytes it was before refusals were added.
        fields: dict[str, object] = handler(self)
        if fields.get("refused", ...) is None:
            del fields["refused"]
        return fields

    @model_validator(mode="after")
    def _ranges_agree(self) -> Confirmation:
        check_confirmed(self.stored, self.refused or [])
        return self
