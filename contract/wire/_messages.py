"""The wire's messages: a device's KPI window, and the signed messages that carry them.

Models only: they validate fields and cross-field rules; :mod:`contract.wire._decode` turns
bytes into them, :mod:`contract.wire._signing` seals and verifies them. The day seal, which
shares the signed header, is :mod:`contract.wire._day_seal`'s.
"""

from __future__ import annotations

import operator
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializationInfo,
    SerializerFunctionWrapHandler,
    model_serializer,
    model_validator,
)

from contract import quantities
from contract.wire._canonical import canonical_bytes
from contract.wire._limits import (
    CONFIG_DIGEST_PATTERN,
    MAX_COUNT,
    MAX_ENERGY_KWH,
    MAX_RECORDS,
    MAX_SEQ,
    MAX_TEXT,
    MAX_WINDOW_S,
)
from contract.wire._rules import check_window_times
from contract.wire._time import Timestamp
from contract.wire._topics import IDENTIFIER_PATTERN

Identifier = Annotated[str, Field(pattern=IDENTIFIER_PATTERN)]
Seconds = Annotated[float, Field(ge=0, le=MAX_WINDOW_S, allow_inf_nan=False)]
Count = Annotated[int, Field(ge=0, le=MAX_COUNT)]
EnergyKwh = Annotated[float, Field(ge=0, le=MAX_ENERGY_KWH, allow_inf_nan=False)]


_state_times = operator.attrgetter(*quantities.STATE_TIMES)


class _WireModel(BaseModel):
    # strict: a count sent as 3.0 or a flag sent as 1 is an error, not a coercion.
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


# --- records ------------------------------------------------------------------------------


class DataQuality(_WireModel):
    """How much of a window rests on good data; see docs/kpi.md for each field's definition."""

    samples: Count
    missed_polls: Count
    bad_values: Count
    comm_loss_s: Seconds
    scheduled_comm_loss_s: Seconds
    counter_resets: Count
    meter_resets: Count
    clock_jumps: Count


class KpiWindow(_WireModel):
    """One device's base quantities over one window ``[start, end)``.

    Never ratios: OEE and every other ratio over any period is computed from sums of these.
    A quantity the device has no signal for is ``None`` (not measured), never 0.
    """

    kind: Literal["kpi_window"] = "kpi_window"
    device: Identifier
    start: Timestamp
    end: Timestamp
    provenance: Literal["measured", "imported"]
    partial: bool = False
    config_digest: Annotated[str, Field(pattern=CONFIG_DIGEST_PATTERN)]
    scheduled_s: Seconds
    planned_s: Seconds
    run_s: Seconds | None
    idle_s: Seconds | None
    down_s: Seconds | None
    off_s: Seconds | None
    planned_stop_s: Seconds | None
    total_count: Count | None
    good_count: Count | None
    reject_count: Count | None
    energy_kwh: EnergyKwh | None
    # Added after v1's first agents: None (the default) from an agent that predates them
    # (docs/wire-contract.md). Fully productive time, and the parts counted across comm loss.
    ideal_good_s: (
        Annotated[float, Field(ge=0, le=MAX_WINDOW_S * MAX_COUNT, allow_inf_nan=False)] | None
    ) = None
    unobserved_count: Count | None = None
    # Absent is null (contract.quantities.ABSENT_IS_NULL): left out of the canonical bytes
    # when None, so windows of agents that predate it stay canonical (docs/wire-contract.md).
    unsampled_run_s: Seconds | None = None
    # Absent is null too: the planned time whose state was inferred, not read from a code.
    inferred_planned_s: Seconds | None = None
    ideal_cycle_s: Annotated[float, Field(gt=0, le=MAX_WINDOW_S, allow_inf_nan=False)] | None
    quality: DataQuality

    @property
    def duration_s(self) -> float:
        """Length of the window in seconds."""
        return (self.end - self.start).total_seconds()

    @model_serializer(mode="wrap")
    def _leave_out_absent(
        self, handler: SerializerFunctionWrapHandler, info: SerializationInfo
    ) -> dict[str, object]:
        # An absent-is-null quantity that is None is written by leaving its key out.
        fields: dict[str, object] = handler(self)
        for name in quantities.ABSENT_IS_NULL:
            if name in fields and fields[name] is None:
                del fields[name]
        return fields

    @model_validator(mode="after")
    def _times_fit_the_window(self) -> KpiWindow:
        check_window_times(
            self.start,
            self.end,
            _state_times(self),
            self.quality.comm_loss_s,
            self.scheduled_s,
            self.planned_s,
            self.quality.scheduled_comm_loss_s,
            self.total_count,
            self.unobserved_count,
            self.unsampled_run_s,
            self.inferred_planned_s,
        )
        return self


#: The KpiWindow fields that add up over time and devices: every KPI is a ratio of their sums
#: (docs/kpi.md). Merging windows, daily rollups and evidence all sum exactly these, and every
#: DataQuality field. Defined once, with their units, in :mod:`contract.quantities`.
SUMMED_FIELDS = quantities.SUMMED_FIELDS


class _Signed(_WireModel):
    v: int
    platform: Identifier
    enterprise: Identifier
    agent: Identifier
    sent: Timestamp
    sig: Annotated[str, Field(min_length=1, max_length=200)]

    def signed_bytes(self) -> bytes:
        """The canonical bytes the signature covers: the whole message without ``sig``."""
        return canonical_bytes(self.model_dump(mode="json", exclude={"sig"}))


class Envelope(_Signed):
    """A signed batch of records from one agent: ``{v, platform, enterprise, agent, seq, sent,
    records[], sig}``. ``seq`` is per agent, starts at 1 and is never reused."""

    seq: Annotated[int, Field(ge=1, le=MAX_SEQ)]
    records: Annotated[list[KpiWindow], Field(min_length=1, max_length=MAX_RECORDS)]


class StatusMessage(_Signed):
    """An agent's retained birth (``online``) or Last Will (``offline``)."""

    state: Literal["online", "offline"]
    agent_version: Annotated[str, Field(max_length=64)]
    config_digest: Annotated[str, Field(pattern=CONFIG_DIGEST_PATTERN)]
    outbox_depth: Count
    outbox_full: bool = False
    last_error: Annotated[str, Field(max_length=MAX_TEXT)] | None = None
