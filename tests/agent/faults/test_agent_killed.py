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
import sqlite3
import time
from contextlib import ExitStack
from pathlib import Path

import pytest

from stack import MosquittoServer, free_port
from tests.agent.faults.conftest import (
    AgentProcess,
    PlantClock,
    Received,
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


def test_sigkill_between_a_puback_and_its_delayed_delete_loses_and_doubles_nothing(
    tmp_path: Path, mosquitto: MosquittoServer, processes: ExitStack
) -> None:
    # A PUBACK only marks the batch acknowledged in memory; its row goes with the outbox's next
    # write transaction (the next edge's store and seal, or the fold within a second). Each
    # kill here comes while the file still holds a batch the agent had its PUBACK for (checked
    # after the kill, from the file): the next run sends it again with its seq and bytes, a
    # duplicate the collector drops, and nothing is lost or sent under another seq.
    clock = PlantClock(60.0)  # a one-minute window edge a wall second
    sim = start_sim(
        processes, tmp_path / "sim", clock, [machine("press-1", 1), machine("press-2", 2)]
    )
    devices = [
        modbus_device("press-1", sim, 1, poll_interval_s=POLL_S),
        modbus_device("press-2", sim, 2, poll_interval_s=POLL_S, ideal_cycle_s=16),
    ]
    config = write_agent_config(tmp_path / "agent", mosquitto, clock, devices)
    outbox_path = config.parent / "outbox.sqlite"
    collector = start_collector(processes, mosquitto, config.parent / "agent.key")
    agent = start_agent(processes, config, metrics_port=free_port())
    bound: list[int] = []  # next_seq of the agent when every batch below it had its PUBACK

    def acked_row_left() -> bool:
        bound[:] = _acked_rows_left(agent, outbox_path)
        return bool(bound)

    killed_acked: list[list[int]] = []
    for _ in range(12):  # at most; three kills with an acknowledged batch left are enough
        agent.wait_for_log("connected to broker")
        wait_for(acked_row_left, 30, "a batch acknowledged by the broker, its row still there")
        agent.kill()
        left = _window_batches(outbox_path, below=bound[0])  # committed state only
        if left:
            killed_acked.append(left)
        collector.collect(quiet_s=0.01)
        agent.start()
        if len(killed_acked) == 3:
            break
    assert len(killed_acked) == 3, f"kills never found an acknowledged batch left: {killed_acked}"

    agent.wait_for_log("connected to broker")
    wait_for(agent.outbox_empty, 30, "the last run to empty the outbox")
    assert agent.stop() == 0
    received = collector.collect(quiet_s=1.0, max_s=30)
    assert _window_batches(outbox_path) == []  # the clean stop deleted what was acknowledged

    assert_seqs_sound(received)  # never a seq for other content
    assert_no_window_twice(received)  # the batches sent again are duplicates, dropped
    _assert_sent_again(received, [seq for seqs in killed_acked for seq in seqs])
    for windows in received.by_device().values():
        assert_tiled(windows)  # nothing lost


def _acked_rows_left(agent: AgentProcess, outbox_path: Path) -> list[int]:
    """``[next_seq]`` when the running agent has had the PUBACK of every batch below it
    (``sealed_batches`` 0 and ``next_seq`` are read together under its lock) and the file,
    read just after, still holds such a batch; else ``[]``."""
    outbox = agent.healthz()["outbox"]
    if outbox["sealed_batches"]:
        return []
    return [outbox["next_seq"]] if _window_batches(outbox_path, below=outbox["next_seq"]) else []


def _window_batches(outbox_path: Path, below: int | None = None) -> list[int]:
    """The seqs of the window batches in the outbox file (below ``below``), as committed."""
    db = sqlite3.connect(outbox_path, timeout=10)  # another connection: committed state
    try:
        rows = db.execute(
            "SELECT seq FROM batches WHERE kind = 'windows' AND seq < ? ORDER BY seq",
            (below or 2**62,),
        ).fetchall()
    finally:
        db.close()
    return [seq for (seq,) in rows]


def _assert_sent_again(received: Received, seqs: list[int]) -> None:
    """Each of ``seqs`` arrived, and at least that many duplicates (same seq, same bytes)."""
    assert set(seqs) <= set(received.by_seq), f"acknowledged batches never arrived: {seqs}"
    assert received.duplicates >= len(seqs), (received.duplicates, seqs)
