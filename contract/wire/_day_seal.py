"""The day seal: an agent's signed account of one device's local day, part by provenance.

Models only, like :mod:`contract.wire._messages` (whose signed header a seal shares); the
cross-field rules are :mod:`contract.wire._rules`' (the compiled codec calls the same ones).
``docs/wire-contract.md`` ("Day seal") says what each field means and how the chain works;
:mod:`contract.daysums` builds the parts and compares them with stored rows.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Literal, TypeVar

from pydantic import (
    Field,
    SerializationInfo,
    SerializerFunctionWrapHandler,
    model_serializer,
    model_validator,
)

from contract import quantities
from contract.wire._limits import (
    CONFIG_DIGEST_PATTERN,
    MAX_COUNT,
    MAX_PART_DIGESTS,
    MAX_SEAL_PARTS,
    MAX_SEQ,
    MAX_WINDOW_S,
    SHA256_HEX_PATTERN,
    ZONE_PATTERN,
)
from contract.wire._messages import Count, Envelope, Identifier, StatusMessage, _Signed, _WireModel
from contract.wire._rules import MEASURED_QUANTITIES, check_day_part, check_day_seal
from contract.wire._time import Day, Timestamp

if TYPE_CHECKING:
    from contract.wire._confirmation import Confirmation

__all__ = ["DAY_SUM_FIELDS", "DaySeal", "DaySealPart", "DaySums"]

#: A sum over a day of non-negative floats (no upper bound: a day holds any number of windows).
FloatSum = Annotated[float, Field(ge=0, allow_inf_nan=False)]
#: An exact integer sum, within int64 (past it the sum is null and named in ``overflowed``).
IntSum = Annotated[int, Field(ge=0, le=MAX_COUNT)]
Sha256Hex = Annotated[str, Field(pattern=SHA256_HEX_PATTERN)]
Digest = Annotated[str, Field(pattern=CONFIG_DIGEST_PATTERN)]
Seq = Annotated[int, Field(ge=1, le=MAX_SEQ)]

#: The sums a part carries, in :data:`contract.quantities.DAY_SUMS` order.
DAY_SUM_FIELDS: tuple[str, ...] = tuple(q.name for q in quantities.DAY_SUMS)


class DaySums(_WireModel):
    """One part's sums over its windows: :data:`contract.quantities.DAY_SUMS`, field by field.

    Integers are exact (null past int64, named in the part's ``overflowed``); floats are
    added in the order the windows were ledgered (``contract.daysums.float_tolerance`` bounds
    how far another order may land). An optional quantity no window measured is null.
    """

    # Typed one by one for pydantic and mypy; tests/contract/test_quantities.py holds the list
    # to contract.quantities.DAY_SUMS (names, order, kinds, which may be null).
    scheduled_s: FloatSum
    planned_s: FloatSum
    run_s: FloatSum | None
    idle_s: FloatSum | None
    down_s: FloatSum | None
    off_s: FloatSum | None
    planned_stop_s: FloatSum | None
    total_count: IntSum | None
    good_count: IntSum | None
    reject_count: IntSum | None
    energy_kwh: FloatSum | None
    ideal_good_s: FloatSum | None
    unobserved_count: IntSum | None
    unsampled_run_s: FloatSum | None
    # Added after the first day seals: absent is null (DAY_SUMS_ABSENT_IS_NULL), so the seals
    # agents made before it stay canonical and verify (docs/wire-contract.md, "Day seal").
    inferred_planned_s: FloatSum | None = None
    ideal_count_s: FloatSum | None
    duration_ms: IntSum
    samples: IntSum | None
    missed_polls: IntSum | None
    bad_values: IntSum | None
    comm_loss_s: FloatSum
    scheduled_comm_loss_s: FloatSum
    counter_resets: IntSum | None
    meter_resets: IntSum | None
    clock_jumps: IntSum | None

    @model_serializer(mode="wrap")
    def _leave_out_absent(
        self, handler: SerializerFunctionWrapHandler, info: SerializationInfo
    ) -> dict[str, object]:
        # A sum added after the first seals is written by leaving its key out when null.
        fields: dict[str, object] = handler(self)
        for name in quantities.DAY_SUMS_ABSENT_IS_NULL:
            if name in fields and fields[name] is None:
                del fields[name]
        return fields

    def by_name(self) -> dict[str, float | int | None]:
        """Every sum by its :data:`DAY_SUM_FIELDS` name, in that order."""
        return {name: getattr(self, name) for name in DAY_SUM_FIELDS}


class DaySealPart(_WireModel):
    """The windows of one device, local day and provenance: one ``kpi_daily`` row's worth.

    ``first_start``/``last_end``: the earliest start and latest end; ``seq_first``/``seq_last``:
    the seq range of the envelopes that carried the windows; ``config_digest_first``/``_last``:
    the digest of the window that ends first and last; ``config_digests``: the distinct
    digests, sorted, at most 100 (``config_digest_count`` counts them all);
    ``measured_windows``: per optional quantity, the windows that measured it;
    ``merkle_root``: RFC 6962 root over the windows' canonical bytes in (seq, end, start)
    order (:mod:`contract.merkle`).
    """

    provenance: Literal["imported", "measured"]
    windows: Annotated[int, Field(ge=1, le=MAX_COUNT)]
    partial_windows: Count
    first_start: Timestamp
    last_end: Timestamp
    seq_first: Seq
    seq_last: Seq
    config_digest_first: Digest
    config_digest_last: Digest
    config_digest_count: Annotated[int, Field(ge=1, le=MAX_COUNT)]
    config_digests: Annotated[list[Digest], Field(min_length=1, max_length=MAX_PART_DIGESTS)]
    sums: DaySums
    measured_windows: Annotated[dict[str, Count], Field(max_length=len(MEASURED_QUANTITIES))]
    ideal_cycle_s_min: Annotated[float, Field(gt=0, le=MAX_WINDOW_S, allow_inf_nan=False)] | None
    ideal_cycle_s_max: Annotated[float, Field(gt=0, le=MAX_WINDOW_S, allow_inf_nan=False)] | None
    overflowed: Annotated[
        list[Annotated[str, Field(max_length=64)]], Field(max_length=len(DAY_SUM_FIELDS))
    ]
    merkle_root: Sha256Hex

    @model_validator(mode="after")
    def _figures_agree(self) -> DaySealPart:
        check_day_part(self, self.first_start, self.last_end, self.sums.by_name())
        return self


class DaySeal(_Signed):
    """An agent's signed seal of one device's local day: ``{kind: "day_seal", v, platform,
    enterprise, agent, seq, sent, device, day, tz, version, supersedes, index, prev,
    dropped_windows, parts[], sig}``.

    ``seq`` comes from the agent's envelope counter (a seal travels in the outbox like a
    batch); ``version`` counts the seals of this (agent, device, day) and ``supersedes`` is
    the previous version's hash; ``index`` counts every seal of this (agent, device) and
    ``prev`` is the hash of seal ``index - 1``. A seal's hash is SHA-256 of its published
    bytes, ``sig`` included (``day_seal_sha256``).
    """

    kind: Literal["day_seal"]
    seq: Seq
    device: Identifier
    day: Day
    tz: Annotated[str, Field(pattern=ZONE_PATTERN, max_length=64)]
    version: Seq
    supersedes: Sha256Hex | None
    index: Seq
    prev: Sha256Hex | None
    dropped_windows: Count
    parts: Annotated[list[DaySealPart], Field(min_length=1, max_length=MAX_SEAL_PARTS)]

    @model_validator(mode="after")
    def _chain_agrees(self) -> DaySeal:
        check_day_seal(self)
        return self


#: A sealed message of any kind, for the functions that seal or decode each.
MessageT = TypeVar("MessageT", Envelope, StatusMessage, DaySeal, "Confirmation")
