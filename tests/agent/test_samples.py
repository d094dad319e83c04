"""Readings to samples by tag role, and a device's KPI spec from its configuration."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from agent.config import DeviceConfig, MachineState, parse_config
from agent.inference import Inferred
from agent.samples import comm_loss_limit_s, kpi_spec, to_sample
from agent.sources.base import Quality, Reading

CONFIG = """
agent: {id: gw-01, platform: plat-a, enterprise: ent-01, key_path: k, outbox_path: o}
broker: {host: 127.0.0.1}
devices:
  - id: press-1
    protocol: modbus_tcp
    host: 127.0.0.1
    poll_interval_s: 2
    timeout_s: 1
    retries: 1
    ideal_cycle_s: 12
    calendar:
      timezone: Asia/Shanghai
      shifts: [{name: day, days: [mon, tue, wed, thu, fri], start: "08:00", end: "17:00",
                breaks: [{start: "12:00", end: "13:00"}]}]
    tags:
      state: {role: state, register_type: holding, address: 0, data_type: uint16,
              state_map: {1: running, 2: idle, 3: down}, state_default: off}
      strokes: {role: total_count, register_type: holding, address: 2, data_type: uint32, width: 32}
      rejects: {role: reject_count, register_type: holding, address: 4, data_type: uint16,
                width: 16}
      energy: {role: energy_kwh, register_type: holding, address: 6, data_type: uint32,
               width: 32, scale: 0.01}
      temp: {register_type: input, address: 0, data_type: int16, scale: 0.1}
"""


@pytest.fixture
def device() -> DeviceConfig:
    return parse_config(CONFIG, "agent.yaml").config.devices[0]


def reading(tag: str, value: object, quality: Quality = Quality.GOOD) -> Reading:
    return Reading(
        tag=tag,
        value=value,  # type: ignore[arg-type]
        raw=None,
        quality=quality,
        reason=None if quality is Quality.GOOD else "modbus exception 2 (illegal data address)",
        read_ts=0.0,
    )


def test_readings_become_a_sample_by_role(device: DeviceConfig) -> None:
    sample = to_sample(
        device,
        [
            reading("state", 1),
            reading("strokes", 4_000_000_000),
            reading("rejects", 7),
            reading("energy", 123456.78),  # scaled kWh; the raw register held 12345678
            reading("temp", 21.5),
        ],
        ts=100.0,
        mono=5.0,
    )
    assert sample.answered and sample.state is MachineState.RUNNING
    assert (sample.total_count, sample.reject_count, sample.good_count) == (4_000_000_000, 7, None)
    assert sample.energy_meter_raw == 12345678
    assert sample.energy_meter_kwh == pytest.approx(123456.78)
    assert sample.bad_values == 0


def test_unknown_state_code_takes_the_default_and_bad_values_are_counted(
    device: DeviceConfig,
) -> None:
    sample = to_sample(
        device,
        [reading("state", 9), reading("strokes", None, Quality.BAD), reading("temp", 20.0)],
        ts=1.0,
        mono=None,
    )
    assert sample.state is MachineState.OFF
    assert sample.total_count is None and sample.bad_values == 1


def test_a_poll_without_any_usable_value_is_a_missed_poll(device: DeviceConfig) -> None:
    bad = [reading(tag, None, Quality.BAD) for tag in ("state", "strokes", "temp")]
    sample = to_sample(device, bad, ts=1.0, mono=None)
    assert not sample.answered and sample.bad_values == 3


def test_kpi_spec_follows_the_configuration(device: DeviceConfig) -> None:
    spec = kpi_spec(device, window_s=60, config_digest="sha256:" + "a" * 64)
    assert spec.counters == {
        "total_count": spec.counters["total_count"],
        "reject_count": spec.counters["reject_count"],
    }
    assert spec.counters["reject_count"].width_bits == 16
    assert (spec.energy_source, spec.energy_meter_width, spec.energy_meter_scale) == (
        "meter",
        32,
        0.01,
    )
    assert spec.ideal_cycle_s == 12 and spec.has_state
    assert spec.max_gap_s == comm_loss_limit_s(device) == 10  # five 2-s polls
    # Wednesday 2026-11-25 in Shanghai: 08:00-12:00 and 13:00-17:00 local, 8 h scheduled.
    day = datetime(2026, 11, 24, 16, 0, tzinfo=UTC).timestamp()  # 00:00 local
    scheduled = spec.schedule(day, day + 86400)
    assert sum(high - low for low, high in scheduled) == 8 * 3600
    assert scheduled[0][0] == day + 8 * 3600


def test_kpi_spec_scales_the_clock_jump_tolerance_with_the_clocks_speed(
    device: DeviceConfig,
) -> None:
    digest = "sha256:" + "a" * 64
    assert kpi_spec(device, window_s=60, config_digest=digest).clock_jump_tolerance_s == 2.0
    fast = kpi_spec(device, window_s=60, config_digest=digest, clock_speed=50_000)
    assert fast.clock_jump_tolerance_s == 100_000.0  # 2 s of wall time at 50,000x


# --- an inferred state (agent.inference) ---------------------------------------------------

POWER_ONLY = """
agent: {id: gw-01, platform: plat-a, enterprise: ent-01, key_path: k, outbox_path: o}
broker: {host: 127.0.0.1}
devices:
  - id: lathe-1
    protocol: modbus_tcp
    host: 127.0.0.1
    state:
      power: {tag: meter, off_below: 0.5, running_above: 4}
    tags:
      meter: {role: power_kw, register_type: input, address: 0, data_type: float32}
"""


def test_a_device_with_a_state_block_has_a_state() -> None:
    power_only = parse_config(POWER_ONLY, "agent.yaml").config.devices[0]
    assert kpi_spec(power_only, window_s=60, config_digest="sha256:0").has_state
    assert kpi_spec(power_only, window_s=60, config_digest="sha256:0").infers_state
    no_state = POWER_ONLY.replace("    state:\n      power: {tag: meter, off_below: 0.5, "
                                  "running_above: 4}\n", "")  # fmt: skip
    plain = parse_config(no_state, "agent.yaml").config.devices[0]
    assert plain.state is None
    assert not kpi_spec(plain, window_s=60, config_digest="sha256:0").has_state
    assert not kpi_spec(plain, window_s=60, config_digest="sha256:0").infers_state


def test_a_state_the_tag_gives_wins_over_the_inferred_one(device: DeviceConfig) -> None:
    polled = [reading("state", 2), reading("strokes", 10)]
    inferred = Inferred(MachineState.RUNNING)
    coded = to_sample(device, polled, ts=0, mono=0, inferred=inferred)
    assert coded.state is MachineState.IDLE and not coded.state_inferred
    bad_tag = [reading("state", None, Quality.BAD), reading("strokes", 10)]
    sample = to_sample(device, bad_tag, ts=0, mono=0, inferred=inferred)
    assert sample.state is MachineState.RUNNING and sample.bad_values == 1
    assert sample.state_inferred  # its planned time goes to inferred_planned_s
    nothing = to_sample(device, bad_tag, ts=0, mono=0, inferred=Inferred(None))
    assert nothing.state is None and not nothing.state_inferred  # comm loss, not inferred


def test_a_garbage_level_is_a_bad_value_and_no_power() -> None:
    power_only = parse_config(POWER_ONLY, "agent.yaml").config.devices[0]
    polled = [reading("meter", 3.4e38)]
    sample = to_sample(power_only, polled, ts=0, mono=0, inferred=Inferred(None, ("meter",)))
    assert (sample.answered, sample.power_kw, sample.bad_values) == (False, None, 1)
    fine = to_sample(power_only, [reading("meter", 5.0)], ts=0, mono=0, inferred=Inferred(None))
    assert fine.power_kw == 5.0 and fine.bad_values == 0
