"""The inferred state: hysteresis, dwell, counter activity, garbage levels and the precedence."""

from __future__ import annotations

import pytest

from agent.config import DeviceConfig, MachineState, parse_config
from agent.inference import StateInference, make_inference
from agent.samples import to_sample
from agent.sources.base import Quality, Reading

OFF, IDLE, RUNNING = MachineState.OFF, MachineState.IDLE, MachineState.RUNNING

DEVICE = """
agent: {{id: gw-01, platform: plat-a, enterprise: ent-01, key_path: k, outbox_path: o}}
broker: {{host: 127.0.0.1}}
devices:
  - id: press-1
    protocol: modbus_tcp
    host: 127.0.0.1
    poll_interval_s: {poll}
    ideal_cycle_s: 10
    state:
      power: {{tag: power, off_below: 0.8, {running} hysteresis: 0.3}}
      run_signal: {{tag: lamp}}
      counter: {{within_cycles: {within}}}
      min_dwell_s: {dwell}
    tags:
      code: {{role: state, register_type: holding, address: 0, state_map: {{1: running}}}}
      strokes: {{role: total_count, register_type: holding, address: 2, width: 16}}
      power: {{role: power_kw, register_type: input, address: 0, data_type: float32}}
      lamp: {{register_type: discrete_input, address: 0}}
"""
BAD = object()  # a reading the source marked bad


def device(
    *, running_above: float | None = 6.0, dwell: float = 0, within: float = 3, poll: float = 1
) -> DeviceConfig:
    running = "" if running_above is None else f"running_above: {running_above},"
    text = DEVICE.format(running=running, dwell=dwell, within=within, poll=poll)
    return parse_config(text, "agent.yaml").config.devices[0]


def inference(config: DeviceConfig) -> StateInference:
    made = make_inference(config)
    assert made is not None
    return made


def readings(**values: object) -> list[Reading]:
    """One poll's readings by tag name; ``BAD`` gives a bad reading, an omitted tag none."""
    found = []
    for tag, value in values.items():
        bad = value is BAD
        found.append(
            Reading(
                tag=tag,
                value=None if bad else value,  # type: ignore[arg-type]
                raw=None,
                quality=Quality.BAD if bad else Quality.GOOD,
                reason="timeout after 1.0 s" if bad else None,
                read_ts=0.0,
            )
        )
    return found


def states(
    engine: StateInference, powers: list[float], *, start: float = 0.0, poll: float = 1.0
) -> list[object]:
    """The inferred state at each of ``powers``, one poll every ``poll`` s from ``start``."""
    return [
        engine.update(readings(power=power), start + i * poll).state
        for i, power in enumerate(powers)
    ]


# --- hysteresis and dwell -------------------------------------------------------------------


@pytest.mark.parametrize("edge", [0.8, 6.0])
def test_readings_hovering_around_an_edge_never_flap(edge: float) -> None:
    engine = inference(device())
    eps = 0.29  # under the hysteresis (0.3)
    rise = states(engine, [edge - 1.0, edge + 0.5])
    above = states(engine, [edge + s * eps for s in (-1, 1) * 20], start=10)
    assert len(set(above)) == 1  # no flap, whichever class it entered
    assert above[0] == rise[1]  # and it kept the class the rise gave it


def test_a_level_falls_out_of_a_class_only_below_edge_minus_hysteresis() -> None:
    engine = inference(device())
    assert states(engine, [7.0, 5.8, 5.71, 5.69, 5.9, 6.0, 0.6, 0.49, 0.79, 0.8]) == [
        RUNNING, RUNNING, RUNNING, IDLE, IDLE, RUNNING, IDLE, OFF, OFF, IDLE,
    ]  # fmt: skip


def test_a_short_spike_is_ignored_and_a_held_change_confirmed_once_its_polls_make_the_dwell() -> (
    None
):
    engine = inference(device(dwell=5))
    spike = states(engine, [2.0, 2.0, 7.0, 7.0, 7.0, 2.0, 2.0])  # 3 s above running, D = 5
    assert spike == [IDLE] * 7
    # Above from t=10: the polls at 10..14 stand for 5 s (each for the second after it, as
    # sample and hold counts it), so the fifth, at t=14, adopts it.
    held = states(engine, [7.0] * 7, start=10)
    assert held == [IDLE] * 4 + [RUNNING] * 3


def test_an_inrush_never_makes_a_machine_run_at_1_s_polls() -> None:
    # The demo's kit at a real gateway's rate: 3 s at 6 x the idle draw at power-on, D = 6 s.
    engine = inference(device(dwell=6))
    seen = states(engine, [0.2, 0.2, 12.0, 12.0, 12.0] + [2.0] * 8 + [7.0] * 8)
    assert seen == [OFF] * 2 + [OFF] * 3 + [OFF] * 5 + [IDLE] * 3 + [IDLE] * 5 + [RUNNING] * 3


def test_a_dwell_no_longer_than_a_poll_adopts_a_change_at_the_poll_that_sees_it() -> None:
    # One poll stands for its 600 s: asking for a second would drop every spell shorter than a
    # poll into its neighbours (docs/kpi.md, "Dwell"; tests/agent/test_inference_long_polls.py).
    engine = inference(device(dwell=6, poll=600))
    assert states(engine, [7.0, 2.0, 7.0, 0.2, 2.0], poll=600) == [
        RUNNING, IDLE, RUNNING, OFF, IDLE,
    ]  # fmt: skip
    engine = inference(device(dwell=900, poll=600))  # two polls: 1,200 s stand for 900 s
    assert states(engine, [7.0, 2.0, 7.0, 2.0, 2.0], poll=600) == [RUNNING] * 4 + [IDLE]


def test_a_change_of_candidate_restarts_the_dwell_clock() -> None:
    engine = inference(device(dwell=3))
    assert states(engine, [2.0, 7.0, 7.0, 0.2, 0.2, 0.2, 0.2]) == [IDLE] * 5 + [OFF] * 2


def test_the_first_poll_and_the_first_after_comm_loss_are_adopted_at_once() -> None:
    engine = inference(device(dwell=600))
    assert states(engine, [7.0]) == [RUNNING]
    assert engine.update(readings(power=BAD, lamp=BAD, strokes=BAD), 1).state is None
    assert states(engine, [0.2], start=2) == [OFF]
    assert states(engine, [2.0, 2.0], start=3) == [OFF, OFF]  # dwell holds again after that


def test_classify_once_has_no_memory() -> None:
    engine = inference(device(dwell=600))
    states(engine, [7.0] * 3)
    assert engine.classify_once(readings(power=5.8)).state is IDLE  # no hysteresis, no dwell
    assert engine.classify_once(readings(power=0.5)).why.startswith("power 0.5 below")
    assert states(engine, [5.8], start=3) == [RUNNING]  # the engine's own memory is untouched


# --- counters and garbage -------------------------------------------------------------------


def test_counter_activity_counts_across_a_16_bit_rollover() -> None:
    engine = inference(device(running_above=None))
    polls = [65534, 65535, 1, 1, 1, 1, 1]  # wraps between t=1 and t=2, then stops
    seen = [
        engine.update(readings(power=2.0, strokes=count), ts * 10).state
        for ts, count in enumerate(polls)
    ]
    # The first advance is seen at t=10; running is said from 30 - 10 = 20 s after it (the
    # hold: t=30) while the last advance (t=20) is at most 3 x 10 s old (to t=50).
    assert seen == [IDLE, IDLE, IDLE, RUNNING, RUNNING, RUNNING, IDLE]


def _running_s(made: list[float], *, held: bool) -> float:
    """Seconds inferred running for parts completed at ``made``, polled every second from
    t=90 (sample and hold: a poll's state holds for the next second), W = 3 cycles of 10 s."""
    engine = inference(device(running_above=None))
    counter = engine._counter
    assert counter is not None and counter.hold_s == 30 - 10
    if not held:
        counter.hold_s = 0.0  # the rule before: running from the poll that saw the first part
    running_s = 0.0
    for ts in range(90, 400):
        count = sum(1 for t in made if t <= ts)
        if engine.update(readings(power=2.0, strokes=count), float(ts)).state is RUNNING:
            running_s += 1.0
    return running_s


@pytest.mark.parametrize(("start", "parts", "tail_s"), [(100.3, 20, 5.0), (100.9, 3, 9.5)])
def test_a_counter_spell_is_timed_from_its_first_and_last_part(
    start: float, parts: int, tail_s: float
) -> None:
    """A machine at its ideal cycle (10 s) runs from ``start``, makes ``parts`` and stops
    ``tail_s`` into its next cycle. Held, the inferred spell is what its parts prove, the span
    from one cycle before the first part to the last (within a poll), never longer than the
    truth; unheld it was more than W - 2 cycles (10 s) too long, every spell (docs/kpi.md,
    "How close the inferred times are")."""
    made = [start + 10.0 * k for k in range(1, parts + 1)]  # the first a cycle after the start
    truth_s = made[-1] + tail_s - start
    held, unheld = _running_s(made, held=True), _running_s(made, held=False)
    assert held == pytest.approx(made[-1] - made[0] + 10, abs=1.0)
    assert held <= truth_s + 1.0, (held, truth_s)
    assert unheld - truth_s >= 30 - 2 * 10, (unheld, truth_s)


def test_a_counter_reset_is_not_activity() -> None:
    engine = inference(device(running_above=None))
    seen = [engine.update(readings(power=2.0, strokes=c), t).state for t, c in [(0, 9000), (1, 3)]]
    assert seen == [IDLE, IDLE]


@pytest.mark.parametrize("garbage", [float("nan"), 3.4e38, 61.0, -0.31])
def test_an_implausible_level_is_a_bad_value_not_a_state(garbage: float) -> None:
    config = device()
    engine = inference(config)
    inferred = engine.update(readings(power=garbage, code=BAD), 0)
    assert inferred.state is None and inferred.bad == 1
    assert inferred.why.startswith(f"power {garbage:g} implausible")
    sample = to_sample(config, readings(power=garbage, code=BAD), ts=0, mono=0, inferred=inferred)
    assert sample.state is None  # counted as comm loss
    assert sample.bad_values == 2  # the bad state code and the garbage power
    assert sample.power_kw is None  # no garbage energy either
    assert not sample.answered


def test_a_reading_just_inside_the_plausible_range_is_a_state() -> None:
    engine = inference(device())
    assert states(engine, [60.0, -0.3]) == [RUNNING, OFF]


# --- precedence -----------------------------------------------------------------------------

ACTIVE, STILL = (100, 101), (100, 100)  # the counter over two polls 10 s apart
# (running_above, state code, lamp, power, counter, expected)
PRECEDENCE = [
    pytest.param(6.0, 1, False, 0.2, STILL, RUNNING, id="1-usable-state-tag-wins"),
    pytest.param(6.0, BAD, True, 0.2, ACTIVE, OFF, id="2-level-below-off-beats-signal"),
    pytest.param(6.0, BAD, True, 2.0, STILL, RUNNING, id="3-signal-on"),
    pytest.param(6.0, BAD, False, 7.0, ACTIVE, IDLE, id="3-signal-off-beats-level-class"),
    pytest.param(6.0, BAD, BAD, 7.0, STILL, RUNNING, id="4-level-class-running"),
    pytest.param(6.0, BAD, BAD, 2.0, ACTIVE, IDLE, id="4-level-class-beats-counter"),
    pytest.param(6.0, BAD, BAD, BAD, ACTIVE, RUNNING, id="5-counter-active"),
    pytest.param(6.0, BAD, BAD, BAD, STILL, IDLE, id="5-counter-still"),
    pytest.param(6.0, BAD, BAD, BAD, (BAD, BAD), None, id="7-nothing-usable"),
    pytest.param(None, BAD, BAD, 2.0, ACTIVE, RUNNING, id="5-counter-with-level-no-running"),
    pytest.param(None, BAD, BAD, 7.0, STILL, IDLE, id="5-counter-still-at-high-power"),
    pytest.param(None, BAD, BAD, 2.0, (BAD, BAD), IDLE, id="6-level-alone-is-idle"),
    pytest.param(None, BAD, True, 0.2, ACTIVE, OFF, id="2-off-without-running-edge"),
    pytest.param(None, 7, BAD, 2.0, (BAD, BAD), IDLE, id="1-unmapped-code-is-no-state"),
]


@pytest.mark.parametrize(("running_above", "code", "lamp", "power", "counts", "expected"),
                         PRECEDENCE)  # fmt: skip
def test_the_documented_precedence(
    running_above: float | None,
    code: object,
    lamp: object,
    power: object,
    counts: tuple[object, object],
    expected: MachineState | None,
) -> None:
    # W = 1 ideal cycle: no hold, the first advance says running (the hold: tests above).
    config = device(running_above=running_above, within=1)
    engine = inference(config)
    sample = None
    for ts, count in zip((0.0, 10.0), counts, strict=True):
        polled = readings(code=code, lamp=lamp, power=power, strokes=count)
        inferred = engine.update(polled, ts)
        sample = to_sample(config, polled, ts=ts, mono=ts, inferred=inferred)
    assert sample is not None and sample.state is expected
