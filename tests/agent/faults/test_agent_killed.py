"""The agent SIGKILLed at random points, many times, while publishing, and restarted each time.

Issue 5, "Faults it must survive": after restart, seq continues, nothing lost; duplicates only
where a PUBACK was lost, and they carry the same seq (and the same bytes). A killed run's open
window is lost as measured data, but the next run resumes from the last stored window end and
turns that time into comm-loss windows, so each device's windows still tile time from the first
window to the last.
"""

from __future__ import annotations

import os
import random
import signal
import time
from contextlib import ExitStack
from pathlib import Path

import pytest

from stack import MosquittoServer, free_port
from tests.agent.faults.conftest import (
    AgentProcess,
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
    wait_for,
    write_agent_config,
)

pytestmark = pytest.mark.timeout(120)

SPEED = 120.0
POLL_S = 5.0
WINDOW_S = 10  # the shortest allowed: a batch every few wall milliseconds, so kills hit them
KILLS = 12
LOST_PUBACK_EVERY = 4  # every fourth kill happens while the broker holds back its PUBACKs
SEED = 20261125


def test_sigkill_many_times_keeps_seq_and_loses_nothing(
    tmp_path: Path, mosquitto: MosquittoServer, processes: ExitStack
) -> None:
    rng = random.Random(SEED)
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
    config = write_agent_config(tmp_path / "agent", mosquitto, clock, devices, window_s=WINDOW_S)
    collector = start_collector(processes, mosquitto, config.parent / "agent.key")
    agent = start_agent(processes, config, metrics_port=free_port())
    killed_at: list[float] = []
    for kill in range(KILLS):
        agent.wait_for_log("connected to broker")
        # Up to 18 plant windows: kills land while polling, storing, sealing, publishing.
        time.sleep(rng.uniform(0.0, 1.5))
        if kill % LOST_PUBACK_EVERY == LOST_PUBACK_EVERY - 1:
            kill_with_pubacks_lost(agent, mosquitto)
        else:
            agent.kill()
        killed_at.append(clock.now())
        collector.collect(quiet_s=0.01)
        agent.start()

    agent.wait_for_log("connected to broker")

    wait_for(agent.outbox_empty, 30, "the last run to empty the outbox")
    assert agent.stop() == 0
    received = collector.collect(quiet_s=1.0, max_s=30)

    assert agent.runs == KILLS + 1
    assert_seqs_sound(received)  # seq continued across every kill, never reused
    assert_no_window_twice(received)
    # Batches whose PUBACK the killed runs never saw were sent again: same seq, same bytes.
    assert received.duplicates >= 1
    by_device = received.by_device()
    assert sorted(by_device) == ["press-1", "press-2"]
    for windows in by_device.values():
        assert_tiled(windows)  # nothing lost from the first window to the last
        assert windows[-1].end.timestamp() > killed_at[-1]
        # The kills left comm-loss windows where no run was measuring; none claims time twice.
        assert sum(w.quality.comm_loss_s for w in windows) > 0
        for window in windows:
            states = sum(
                getattr(window, name) or 0
                for name in ("run_s", "idle_s", "down_s", "off_s", "planned_stop_s")
            )
            assert states + window.quality.comm_loss_s == pytest.approx(
                duration_s(window), abs=0.01
            )


def kill_with_pubacks_lost(agent: AgentProcess, broker: MosquittoServer) -> None:
    """SIGKILL the agent after it published batches the broker has not yet acknowledged.

    mosquitto is frozen (SIGSTOP) so the agent's publishes wait in its socket; once the agent is
    dead the broker wakes, delivers them and acknowledges to nobody. The next run must send
    those batches again with the same seq and bytes (the collector counts duplicates).
    """
    assert broker.pid is not None
    os.kill(broker.pid, signal.SIGSTOP)
    try:
        wait_for(
            lambda: agent.healthz()["outbox"]["sealed_batches"] >= 1,
            10,
            "a batch published while the broker is frozen",
        )
        time.sleep(0.2)  # paho's network thread writes the PUBLISH
        agent.kill()
    finally:
        os.kill(broker.pid, signal.SIGCONT)
