"""A device offline for part of a window: comm-loss seconds, not fake run time.

Issue 5, "Faults it must survive". The simulated press runs without a stop; for two and a half
plant minutes starting mid-window its Modbus unit stops answering (`silence 1` on the
simulator's control port). docs/kpi.md: once two usable polls are further apart than
``max_gap_s`` (five poll intervals) the whole gap is ``comm_loss_s``, never the state seen last.
So the windows the silence touches must carry about the silent time as comm loss (give or take
the poll before it began and the poll that first succeeds after it), no run time inside it,
and every window's state seconds plus comm loss must add up to its length.
"""

from __future__ import annotations

import math
from contextlib import ExitStack
from pathlib import Path

import pytest

from stack import MosquittoServer, free_port
from tests.agent.faults.conftest import (
    WINDOW_S,
    PlantClock,
    assert_no_window_twice,
    assert_seqs_sound,
    assert_tiled,
    duration_s,
    machine,
    modbus_device,
    start_agent,
    start_collector,
    start_sim,
    write_agent_config,
)

pytestmark = pytest.mark.timeout(60)

SPEED = 30.0  # slow enough that a scheduling hiccup of the test is a fraction of a poll
POLL_S = 2.0
TIMEOUT_S = 0.1  # wall seconds per request: 3 plant seconds at this speed
MAX_GAP_S = 5 * POLL_S  # docs/kpi.md: the default comm-loss limit
# A poll, a timeout or this test's own step can run this late on a busy machine: 0.1 wall
# seconds is 3 plant seconds, still under the shortest edge the test places (a 2 s poll on top of
# a 3 s timeout). A full CI run under load average 15 saw the first good poll 0.08 plant seconds
# past the old allowance of 0.5.
HICCUP_S = 0.1 * SPEED
SILENT_S = 150.0
STATE_FIELDS = ("run_s", "idle_s", "down_s", "off_s", "planned_stop_s")


def test_device_offline_mid_window_is_comm_loss_not_run_time(
    tmp_path: Path, mosquitto: MosquittoServer, processes: ExitStack
) -> None:
    clock = PlantClock(SPEED)
    always_running = machine("press-1", 1, mtbf_s=10**9, idle_mean_s=0)
    sim = start_sim(processes, tmp_path / "sim", clock, [always_running])
    device = modbus_device("press-1", sim, 1, poll_interval_s=POLL_S, timeout_s=TIMEOUT_S)
    config = write_agent_config(tmp_path / "agent", mosquitto, clock, [device])
    collector = start_collector(processes, mosquitto, config.parent / "agent.key")
    agent = start_agent(processes, config, metrics_port=free_port())
    agent.wait_for_log("connected to broker")
    collector.wait_until(lambda r: len(r.records()) >= 2, 30, "the first windows")

    # Begin a third of the way into a window, so the silence cuts windows at both ends.
    clock.sleep_until((math.floor(clock.now() / WINDOW_S) + 1) * WINDOW_S + WINDOW_S / 3)
    silent_from = clock.now()
    sim.control("silence 1")
    clock.sleep_plant(SILENT_S)
    sim.control("unsilence 1")
    silent_to = clock.now()
    health = agent.healthz()["devices"]["press-1"]
    assert health["missed_polls"] > 0
    assert "timeout" in str(health["last_error"])
    clock.sleep_until((math.floor(silent_to / WINDOW_S) + 2) * WINDOW_S + 1)
    collector.wait_until(
        lambda r: r.records()[-1].end.timestamp() > silent_to + WINDOW_S,
        20,
        "the windows after the silence",
    )
    assert agent.stop() == 0
    received = collector.collect(quiet_s=1.0, max_s=30)

    assert_seqs_sound(received)
    assert_no_window_twice(received)
    windows = received.by_device()["press-1"]
    assert_tiled(windows)
    for window in windows:  # every second once: a state or comm loss, nothing invented
        states = sum(getattr(window, name) or 0 for name in STATE_FIELDS)
        assert states + window.quality.comm_loss_s == pytest.approx(duration_s(window), abs=0.01)

    touched = [
        w for w in windows if w.start.timestamp() < silent_to and w.end.timestamp() > silent_from
    ]
    assert len(touched) >= 3
    comm_loss_s = sum(w.quality.comm_loss_s for w in touched)
    # Comm loss runs from the last good poll before the silence to the first good one after
    # it: at most a poll interval earlier, and a poll plus a request timeout later.
    late_s = POLL_S + TIMEOUT_S * SPEED
    assert (
        silent_to - silent_from - POLL_S
        <= comm_loss_s
        <= silent_to - silent_from + late_s + MAX_GAP_S
    )
    # Each missed poll waits out its timeout, so they come every poll plus timeout at least.
    assert sum(w.quality.missed_polls for w in touched) >= SILENT_S / (2 * (POLL_S + late_s))
    inside = [
        w
        for w in touched
        if w.start.timestamp() >= silent_from + POLL_S and w.end.timestamp() <= silent_to
    ]
    assert inside, "no window lies wholly inside the silence"
    for window in inside:
        assert window.run_s == 0
        assert window.quality.comm_loss_s == pytest.approx(duration_s(window), abs=0.01)
    for window in touched:  # the rest of a cut window: the press ran, nothing else
        assert window.run_s is not None
        assert window.run_s + window.quality.comm_loss_s == pytest.approx(
            duration_s(window), abs=0.01
        )
    before, after = touched[0], touched[-1]
    assert before.run_s == pytest.approx(
        silent_from - before.start.timestamp(), abs=POLL_S + HICCUP_S
    )
    assert after.run_s == pytest.approx(after.end.timestamp() - silent_to, abs=late_s + HICCUP_S)
