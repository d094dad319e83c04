"""An S7 PLC switched off and on during a run (issue 18): comm loss, then recovery by itself.

The simulated press is an S7 machine (one data block on the simulator's S7 PLC, python-snap7's
server). Mid-shift the simulator process is killed (SIGKILL: the PLC's connections vanish with
no goodbye) and started again on the same port with the same seed and clock, which is the same
plant: a PLC that lost power and came back. The agent must notice, back off while the PLC is
away, reconnect by itself, count the outage as comm loss (docs/kpi.md) and not as run time,
and still count every part the press made: the counter kept counting in the PLC, and the first
poll after the outage sees all of them.
"""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from stack import MosquittoServer, free_port
from tests.agent.faults.conftest import (
    START,
    STATES,
    WINDOW_S,
    PlantClock,
    assert_no_window_twice,
    assert_seqs_sound,
    assert_tiled,
    duration_s,
    machine,
    start_agent,
    start_collector,
    start_sim,
    write_agent_config,
)

pytestmark = pytest.mark.timeout(180)

SPEED = 30.0
POLL_S = 2.0
MAX_GAP_S = 5 * POLL_S  # docs/kpi.md: the default comm-loss limit
STATE_FIELDS = ("run_s", "idle_s", "down_s", "off_s", "planned_stop_s")


def reconnect_wall_s(outage_wall_s: float) -> float:
    """Longest wait from the PLC's return to the agent's next connect attempt (wall s).

    The back-off's delays are wall seconds, 0.5 doubling up to 30, each jittered down to as
    little as half: the delays tried before the PLC returned add up to at least half the
    present ceiling less 0.5, so the next delay is at most twice the outage plus 0.5.
    """
    return 2 * outage_wall_s + 0.5


def s7_device(device_id: str, host: str, port: int, db: int) -> dict[str, Any]:
    """An agent device reading a simulated S7 machine's data block (docs/simulator.md)."""
    block = {"area": "db", "db": db}
    counter = {**block, "data_type": "dword", "width": 32}
    return {
        "id": device_id,
        "protocol": "s7",
        "host": host,
        "port": port,
        "connection_type": "op",
        "poll_interval_s": POLL_S,
        "timeout_s": 0.5,
        "ideal_cycle_s": 24.0,
        "tags": {
            "state": {"role": "state", **block, "byte": 0, "data_type": "int", "state_map": STATES},
            "total": {"role": "total_count", **counter, "byte": 4},
            "rejects": {"role": "reject_count", **counter, "byte": 8},
            "energy": {"role": "energy_kwh", **block, "byte": 16, "data_type": "lreal"},
        },
    }


def test_a_plc_power_cycle_is_comm_loss_and_every_part_still_counts(
    tmp_path: Path, mosquitto: MosquittoServer, processes: ExitStack
) -> None:
    clock = PlantClock(SPEED)
    shift = {"start": "06:05", "end": "06:22", "days": ["mon"]}
    press = machine(
        "press-s7", 0, protocol="s7", s7_db=10, cycle_s=20, mtbf_s=10**9, idle_mean_s=0,
        calendar={"timezone": "UTC", "shifts": [shift], "outside_shifts": "off"},
    )  # fmt: skip
    del press["unit_id"]
    sim = start_sim(processes, tmp_path / "sim", clock, [press])
    assert sim.s7_port is not None
    device = s7_device("press-s7", sim.modbus_host, sim.s7_port, 10)
    config = write_agent_config(tmp_path / "agent", mosquitto, clock, [device])
    collector = start_collector(processes, mosquitto, config.parent / "agent.key")
    agent = start_agent(processes, config, metrics_port=free_port())
    agent.wait_for_log("connected to broker")

    # Mid-shift, a third of the way into a window: the PLC loses power.
    clock.sleep_until(START.timestamp() + 9 * 60 + WINDOW_S / 3)
    killed_at = clock.now()
    sim.kill()
    clock.sleep_plant(30.0)
    sim.start()  # same port, seed and clock: the same plant, as after a power cycle
    back_at = clock.now()
    end_of_run = START.timestamp() + 25 * 60
    clock.sleep_until(end_of_run)
    collector.wait_until(
        lambda r: bool(r.records()) and r.records()[-1].end.timestamp() >= end_of_run - WINDOW_S,
        30,
        "the windows after the shift",
    )
    health = agent.healthz()["devices"]["press-s7"]
    assert agent.stop() == 0
    received = collector.collect(quiet_s=1.0, max_s=30)

    assert_seqs_sound(received)
    assert_no_window_twice(received)
    windows = received.by_device()["press-s7"]
    assert_tiled(windows)
    for window in windows:  # every second once: a state or comm loss, nothing invented
        states = sum(getattr(window, name) or 0 for name in STATE_FIELDS)
        assert states + window.quality.comm_loss_s == pytest.approx(duration_s(window), abs=0.01)
    assert health["missed_polls"] > 0

    # Comm loss covers the outage: from the last good poll before it (at most a poll earlier)
    # to the first good poll after the PLC is back, which waits for the next reconnect attempt
    # (wall seconds, so SPEED times as many plant seconds).
    touched = [
        w for w in windows if w.start.timestamp() < back_at and w.end.timestamp() > killed_at
    ]
    comm_loss_s = sum(w.quality.comm_loss_s for w in touched)
    outage_s = back_at - killed_at
    late_s = reconnect_wall_s(clock.wall_s(outage_s)) * SPEED + POLL_S
    assert outage_s - POLL_S <= comm_loss_s <= outage_s + late_s + MAX_GAP_S
    # The agent recovered by itself: once a window after the outage has no comm loss, every
    # later one of the shift has none either, and the press runs all of it.
    shift_end = START.timestamp() + 22 * 60
    after = [
        w for w in windows if w.start.timestamp() >= back_at and w.end.timestamp() <= shift_end
    ]
    clean = [i for i, w in enumerate(after) if w.quality.comm_loss_s == 0]
    assert clean, "the agent never read the PLC again before the shift ended"
    for window in after[clean[0] :]:
        assert window.quality.comm_loss_s == 0 and window.run_s == pytest.approx(WINDOW_S)

    # Every part counts: the machine is off before the shift and after it, so the windows'
    # counts must equal the simulator's ground truth over the whole run exactly.
    first = min(w.start.timestamp() for w in windows)
    truth = sim.truth("press-s7", START.timestamp(), end_of_run)
    assert first < START.timestamp() + 5 * 60  # the agent polled before the shift began
    assert sum(w.total_count or 0 for w in windows) == truth["total_count"] > 20
    assert sum(w.reject_count or 0 for w in windows) == truth["reject_count"]
