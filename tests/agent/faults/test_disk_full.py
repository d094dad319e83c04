"""The outbox's disk full: the agent keeps running, says so, and recovers when space returns.

Issue 5, "Faults it must survive": disk full, the stated policy visible in status and metrics.
The outbox lives on a small tmpfs of its own (mounting one needs root; the test is skipped
otherwise); a ballast file fills it while the agent runs, then is deleted. Meanwhile windows
must be held in memory (health ``unsaved_in_memory``, ``last_error``), polling must go on, and
after the space returns every window must reach the collector, none lost, seq unbroken.
"""

from __future__ import annotations

import errno
import json
import math
import os
import subprocess
import time
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import pytest

from stack import MosquittoServer, free_port
from tests.agent.faults.conftest import (
    WINDOW_S,
    AgentProcess,
    Collector,
    PlantClock,
    Received,
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

SPEED = 120.0
POLL_S = 5.0
FS_SIZE = "4m"
FULL_FOR_S = 5 * 60  # plant seconds the disk stays full once the agent holds windows


def mount_tmpfs(processes: ExitStack, mountpoint: Path, size: str) -> None:
    """A tmpfs of ``size`` at ``mountpoint``, unmounted after every process has stopped.

    Skips the test where mounting is not allowed (not root, or no CAP_SYS_ADMIN).
    """
    mountpoint.mkdir(parents=True)
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mountpoint)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    # Registered first on the stack, so it runs after the agent (which holds the file) stopped.
    processes.callback(
        subprocess.run, ["umount", "-l", str(mountpoint)], check=False, capture_output=True
    )


def fill(directory: Path) -> Path:
    """Write a ballast file until the file system is full; the ballast's path."""
    ballast = directory / "ballast"
    chunk = b"\0" * 4096
    with ballast.open("wb", buffering=0) as out:
        try:
            while True:
                out.write(chunk)
        except OSError as exc:
            if exc.errno != errno.ENOSPC:
                raise
    return ballast


@dataclass
class Pipeline:
    """Simulator, agent (outbox on a small tmpfs), collector stand-in, and that tmpfs."""

    clock: PlantClock
    agent: AgentProcess
    collector: Collector
    fs: Path


def start_pipeline(tmp_path: Path, broker: MosquittoServer, processes: ExitStack) -> Pipeline:
    """Two simulated presses read by an agent whose outbox is on a small tmpfs; windows flow."""
    fs = tmp_path / "outbox-fs"
    mount_tmpfs(processes, fs, FS_SIZE)
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
    config = write_agent_config(
        tmp_path / "agent", broker, clock, devices, outbox_path=fs / "outbox.sqlite"
    )
    collector = start_collector(processes, broker, config.parent / "agent.key")
    agent = start_agent(processes, config, metrics_port=free_port())
    agent.wait_for_log("connected to broker")
    collector.wait_until(lambda r: len(r.records()) >= 4, 30, "the first windows")
    return Pipeline(clock, agent, collector, fs)


def wait_until_drained(agent: AgentProcess, timeout_s: float) -> None:
    """Wait for an empty outbox; on timeout fail showing the agent's health and log tail."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if agent.outbox_empty():
            return
        time.sleep(0.1)
    pytest.fail(
        f"the outbox did not empty within {timeout_s:g} s after space returned; "
        f"/healthz: {json.dumps(agent.healthz())}\nagent log tail:\n{agent.log()[-2500:]}"
    )


def assert_all_windows_arrived(received: Received, since: float) -> None:
    """Seqs sound, no window twice, each device's windows tile time from before ``since``."""
    assert_seqs_sound(received)
    assert_no_window_twice(received)
    by_device = received.by_device()
    assert sorted(by_device) == ["press-1", "press-2"]
    for windows in by_device.values():
        assert_tiled(windows)  # the windows held in memory were not lost
        assert windows[0].start.timestamp() < since


def window_edges(start: float, end: float) -> int:
    """How many window edges (multiples of WINDOW_S, plant time) lie in [start, end]."""
    return math.floor(end / WINDOW_S) - math.ceil(start / WINDOW_S) + 1


def held_and_closed(agent: AgentProcess) -> tuple[int, int, int]:
    """From one ``/healthz``: windows held in memory, windows closed, polls (all devices)."""
    health = agent.healthz()
    devices = health["devices"].values()
    return (
        int(health["outbox"]["unsaved_in_memory"]),
        sum(int(device["windows_closed"]) for device in devices),
        sum(int(device["polls"]) for device in devices),
    )


def test_disk_full_keeps_running_holds_windows_and_recovers(
    tmp_path: Path, mosquitto: MosquittoServer, processes: ExitStack
) -> None:
    pipeline = start_pipeline(tmp_path, mosquitto, processes)
    clock, agent, collector, fs = pipeline.clock, pipeline.agent, pipeline.collector, pipeline.fs

    ballast = fill(fs)
    full_at = clock.now()
    agent.wait_for_log("outbox not writable")

    def holding() -> bool:
        health = agent.healthz()
        return health["outbox"]["unsaved_in_memory"] > 0 and "outbox not writable" in str(
            health["last_error"]
        )

    wait_for(holding, 20, "/healthz to show windows held in memory and the outbox error")
    held_then, closed_then, polls_then = held_and_closed(agent)
    # The span counted starts once that reading is in, however long the wait for it took (up to
    # 40 plant minutes): a span ending at a fixed time after full_at could be empty by then.
    counted_from = clock.now()
    clock.sleep_plant(FULL_FOR_S)
    edges = window_edges(counted_from, clock.now())
    # Each device closes a window at its first poll after each of those edges, all after the
    # reading above: wait for those polls, which a loaded machine may run late.
    wait_for(
        lambda: held_and_closed(agent)[1] - closed_then >= 2 * edges,
        20,
        f"both devices to close the windows of the {edges} edges while the disk was full",
    )
    assert agent.is_running, agent.run_log()[-3000:]
    held_now, closed_now, polls_now = held_and_closed(agent)
    assert polls_now > polls_then  # polling went on
    # Every window closed while the disk was full is held in memory (one per device may be on
    # its way into the outbox when the health is read).
    assert held_now - held_then >= closed_now - closed_then - 2, (
        f"{closed_now - closed_then} windows closed while the disk was full, but only "
        f"{held_now - held_then} more held in memory and none counted as dropped:\n"
        + "\n".join(line for line in agent.log().splitlines() if "held in memory" in line)
    )
    wait_for(
        lambda: agent.health_file()["outbox"]["unsaved_in_memory"] > 0,
        12,
        "the health file to show windows held in memory",
    )

    ballast.unlink()
    freed_at = clock.now()
    wait_until_drained(agent, 30)
    collector.wait_until(
        lambda r: all(w[-1].end.timestamp() > freed_at for w in r.by_device().values()),
        20,
        "windows closed after space returned",
    )
    assert agent.stop() == 0
    assert_all_windows_arrived(collector.collect(quiet_s=1.0, max_s=30), full_at)


def test_disk_full_while_broker_down_recovers_when_both_return(
    tmp_path: Path, mosquitto: MosquittoServer, processes: ExitStack
) -> None:
    """Windows pending when the disk fills: sealing them fails until space returns."""
    pipeline = start_pipeline(tmp_path, mosquitto, processes)
    clock, agent, collector, fs = pipeline.clock, pipeline.agent, pipeline.collector, pipeline.fs

    mosquitto.stop()
    down_at = clock.now()
    clock.sleep_plant(3 * WINDOW_S)
    assert agent.healthz()["outbox"]["pending_windows"] >= 4
    ballast = fill(fs)
    agent.wait_for_log("outbox not writable")
    # The broker returns first: the agent reconnects and tries to seal its pending windows
    # into a batch, which cannot be written either.
    mosquitto.start()
    wait_for(lambda: bool(agent.healthz()["broker_connected"]), 20, "the agent to reconnect")
    clock.sleep_plant(2 * WINDOW_S)
    assert agent.is_running, agent.run_log()[-3000:]

    ballast.unlink()
    freed_at = clock.now()
    wait_until_drained(agent, 30)
    collector.wait_until(
        lambda r: all(w[-1].end.timestamp() > freed_at for w in r.by_device().values()),
        20,
        "windows closed after space returned",
    )
    assert agent.stop() == 0
    assert_all_windows_arrived(collector.collect(quiet_s=1.0, max_s=30), down_at)
