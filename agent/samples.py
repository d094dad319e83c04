"""From a device's configuration and readings to what the KPI engine counts. Pure.

:func:`kpi_spec` says what the engine must know of a device (counters and their widths, the
energy source, the calendar); :func:`to_sample` reduces one poll's readings to a
:class:`~agent.kpi.Sample` by tag role.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime

from agent.config import DeviceConfig, MachineState, Role, planned_intervals
from agent.config.tags import COUNTER_ROLES, TagConfig
from agent.inference import Inferred
from agent.kpi import CLOCK_JUMP_TOLERANCE_S, CounterSpec, KpiSpec, Sample, ScheduleFn
from agent.sources.base import Quality, Reading

__all__ = ["comm_loss_limit_s", "kpi_spec", "to_sample"]

#: A device may miss this many polls in a row before the time counts as comm loss.
MISSED_POLLS_TOLERATED = 5


def comm_loss_limit_s(device: DeviceConfig) -> float:
    """Longest gap between usable polls that still holds the last state (seconds).

    As configured (``comm_loss_after_s``), else five poll intervals and never less than one poll
    plus every retry's timeout, so a slow but answering device is not counted as lost.
    """
    if device.comm_loss_after_s is not None:
        return device.comm_loss_after_s
    poll = device.poll_interval_s
    return max(MISSED_POLLS_TOLERATED * poll, poll + device.timeout_s * (device.retries + 1))


def _schedule(device: DeviceConfig) -> ScheduleFn:
    calendar = device.calendar

    def scheduled(start: float, end: float) -> list[tuple[float, float]]:
        intervals = planned_intervals(
            calendar, datetime.fromtimestamp(start, UTC), datetime.fromtimestamp(end, UTC)
        )
        return [(low.timestamp(), high.timestamp()) for low, high in intervals]

    return scheduled


def kpi_spec(
    device: DeviceConfig, *, window_s: int, config_digest: str, clock_speed: float = 1.0
) -> KpiSpec:
    """What the KPI engine needs to know of ``device``.

    ``clock_speed`` is plant seconds per wall second (1 on the wall clock; a demo's scaled
    clock runs faster), so the clock-jump tolerance stays the same in wall time.
    """
    counters: dict[str, CounterSpec] = {}
    for role in COUNTER_ROLES:
        found = device.role_tag(role)
        if found is not None and found[1].width is not None:
            counters[role.value] = CounterSpec(found[1].width)
    meter, power = device.role_tag(Role.ENERGY_KWH), device.role_tag(Role.POWER_KW)
    energy_source = "meter" if meter else "power" if power else None
    return KpiSpec(
        device_id=device.id,
        config_digest=config_digest,
        window_s=window_s,
        max_gap_s=comm_loss_limit_s(device),
        ideal_cycle_s=device.ideal_cycle_s,
        # A device with an inferred state has one too: nothing usable then is comm loss.
        has_state=device.role_tag(Role.STATE) is not None or device.state is not None,
        infers_state=device.state is not None,
        counters=counters,
        energy_source=energy_source,
        energy_meter_width=meter[1].width if meter else None,
        energy_meter_scale=meter[1].scale if meter else 1.0,
        schedule=_schedule(device),
        clock_jump_tolerance_s=CLOCK_JUMP_TOLERANCE_S * max(1.0, clock_speed),
    )


def _usable(reading: Reading | None) -> bool:
    return reading is not None and reading.quality is not Quality.BAD and reading.value is not None


def _native_int(reading: Reading, tag: TagConfig) -> int | None:
    """The device's own integer (before scale and offset): counters roll over on it."""
    value = reading.value
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    native = (value - tag.offset) / tag.scale
    return round(native) if math.isfinite(native) else None


def _state(reading: Reading, tag: TagConfig) -> MachineState | None:
    mapping = tag.state_map or {}
    value = reading.value
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # an OPC UA Double carrying a state code
    if isinstance(value, int | str | bool) and value in mapping:
        return mapping[value]
    return tag.state_default


def to_sample(
    device: DeviceConfig,
    readings: Sequence[Reading],
    *,
    ts: float,
    mono: float | None,
    inferred: Inferred | None = None,
    asked_ts: float | None = None,
) -> Sample:
    """One poll as the KPI engine sees it. A poll with no usable value is a missed poll.

    ``inferred`` is the device's inferred state for this poll (``agent.inference``): it is the
    sample's state when the state tag gives none (no tag, a bad reading, a code with no mapping
    and no ``state_default``); a state the tag gives always wins. The level readings inference
    found implausible are bad values here too.
    """
    garbage = () if inferred is None else inferred.bad_tags
    by_tag = {reading.tag: reading for reading in readings if reading.tag not in garbage}
    bad = sum(1 for reading in readings if reading.quality is Quality.BAD) + len(garbage)
    if not any(_usable(reading) for reading in by_tag.values()):
        return Sample(ts=ts, mono=mono, answered=False, bad_values=bad, asked_ts=asked_ts)

    def usable(role: Role) -> tuple[Reading, TagConfig] | None:
        found = device.role_tag(role)
        if found is None:
            return None
        reading = by_tag.get(found[0])
        return (reading, found[1]) if reading is not None and _usable(reading) else None

    def counter(role: Role) -> int | None:
        found = usable(role)
        return None if found is None else _native_int(*found)

    state_tag = usable(Role.STATE)
    state = None if state_tag is None else _state(*state_tag)
    state_inferred = False
    if state is None and inferred is not None:  # no state tag, a bad reading, an unmapped code
        state, state_inferred = inferred.state, inferred.state is not None
    meter = usable(Role.ENERGY_KWH)
    power = usable(Role.POWER_KW)
    return Sample(
        ts=ts,
        mono=mono,
        answered=True,
        state=state,
        total_count=counter(Role.TOTAL_COUNT),
        good_count=counter(Role.GOOD_COUNT),
        reject_count=counter(Role.REJECT_COUNT),
        energy_meter_kwh=None if meter is None else _float(meter[0]),
        energy_meter_raw=None if meter is None else _native_int(*meter),
        power_kw=None if power is None else _float(power[0]),
        bad_values=bad,
        state_inferred=state_inferred,
        asked_ts=asked_ts,
    )


def _float(reading: Reading) -> float | None:
    value = reading.value
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None
