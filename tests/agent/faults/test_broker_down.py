"""The broker down for several plant minutes while windows keep closing, then back.

Issue 5, "Faults it must survive": every window arrives, in order, none twice in the collector's
view (seq), none lost. mosquitto is stopped (SIGTERM, so it keeps its sessions) for six plant
minutes while the agent goes on polling two devices; when it returns, the collector stand-in
re-subscribes (mosquitto drops shared subscriptions on restart, docs/field-notes.md) and the
agent's backlog must come through whole.
"""

from __future__ import annotations

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
    machine,
    modbus_device,
    start_agent,
    start_collector,
    start_sim,
    wait_for,
    write_agent_config,
)

pytestmark = pytest.mark.timeout(90)

SPEED = 120.0  # a plant minute in half a wall second
POLL_S = 5.0
OUTAGE_S = 6 * 60  # plant seconds the broker is down


def test_broker_down_for_minutes_then_back_loses_nothing(
    tmp_path: Path, mosquitto: MosquittoServer, processes: ExitStack
) -> None:
    clock = PlantClock(SPEED)
    sim = start_sim(
        processes,
        tmp_path / "sim",
        clock,
        [machine("press-1", 1), machine("press-2", 2, cycle_s=20)],
    )
    devices = [
        modbus_device("press-1", sim, 1, poll_interval_s=POLL_S),
        modbus_device("press-2", sim, 2, poll_interval_s=POLL_S, ideal_cycle_s=16),
    ]
    config = write_agent_config(tmp_path / "agent", mosquitto, clock, devices)
    collector = start_collector(processes, mosquitto, config.parent / "agent.key")
    agent = start_agent(processes, config, metrics_port=free_port())
    agent.wait_for_log("connected to broker")
    collector.wait_until(lambda r: len(r.records()) >= 4, 30, "the first windows")

    mosquitto.stop()
    down_at = clock.now()
    clock.sleep_plant(OUTAGE_S)
    pending = agent.healthz()["outbox"]
    # Windows kept closing into the outbox while nothing could be sent.
    assert pending["pending_windows"] + pending["sealed_batches"] >= 2 * (OUTAGE_S // WINDOW_S) - 4
    mosquitto.start()
    up_at = clock.now()

    wait_for(agent.outbox_empty, 40, "the agent's outbox to empty after the broker returned")
    collector.wait_until(
        lambda r: all(w[-1].end.timestamp() > up_at for w in r.by_device().values()),
        20,
        "windows closed after the broker returned",
    )
    assert agent.stop() == 0
    assert "still in the outbox" not in agent.run_log()
    received = collector.collect(quiet_s=1.0, max_s=30)

    assert_seqs_sound(received)
    assert_no_window_twice(received)
    by_device = received.by_device()
    assert sorted(by_device) == ["press-1", "press-2"]
    for windows in by_device.values():
        assert_tiled(windows)  # in order, none lost, none twice
        assert windows[0].start.timestamp() < down_at
        assert windows[-1].end.timestamp() > up_at
        during = [w for w in windows if down_at < w.end.timestamp() <= up_at]
        assert len(during) >= OUTAGE_S // WINDOW_S - 1
