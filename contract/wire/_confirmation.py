"""The delivery confirmation: the collector's signed word that it has stored an agent's seqs.

Models only, like :mod:`contract.wire._messages` (whose signed header it shares: ``agent`` is
the agent the confirmation is *for*); :mod:`contract.wire._signing` seals and verifies it with
the collector's confirmation key, not an agent's. ``docs/wire-contract.md`` ("Delivery
confirmation") says what an agent may do on one (#19).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from contract.wire._limits import MAX_CONFIRMED_RANGES, MAX_SEQ
from contract.wire._messages import _Signed, _WireModel
from contract.wire._rules import check_seq_ranges

__all__ = ["Confirmation", "SeqRange"]

Seq = Annotated[int, Field(ge=1, le=MAX_SEQ)]


class SeqRange(_WireModel):
    """The seqs ``first..last``, both included."""

    first: Seq
    last: Seq


class Confirmation(_Signed):
    """The collector confirms to one agent the seqs it has stored: ``{kind: "confirmation", v,
    platform, enterprise, agent, sent, stored[{first, last}], sig}``.

    Stored means written to InfluxDB with the seq recorded in the registry (a duplicate that
    was stored before counts). ``stored`` is ascending, merged ranges; a confirmation names
    only seqs newly stored since the last one, so an agent keeps no state of it beyond
    deleting those batches.
    """

    kind: Literal["confirmation"]
    stored: Annotated[list[SeqRange], Field(min_length=1, max_length=MAX_CONFIRMED_RANGES)]

    @model_validator(mode="after")
    def _ranges_agree(self) -> Confirmation:
        check_seq_ranges(self.stored)
        return self
