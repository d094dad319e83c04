"""Day seals when the agent is SIGKILLed around midnight, and when the broker is down across it.

Issue 17, "Faults": the seals that result are correct. A kill loses the killed run's open
window; the next run fills the time since the last stored window with comm-loss windows, and
the day must wait for them (never be sealed short, then again). A kill between a seal's
statements must leave either the whole seal or none of it, so one chain index never carries
two contents. With the broker down from 23:55 to 00:40, the day's windows wait in the outbox and
its seal waits for them (never sealed without them). Historian data imported into a sealed day
(`retrofit-agent import`, while the agent runs) gives the day a version 2. Afterwards each
device's seal of the day equals the part rebuilt from the windows the collector stand-in
received, and each device's chain is contiguous.
"""

from __future__ import annotations

import itertools
import random
import sqlite3
import time
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from datetime import time as clock_time
from pathlib import Path
from typing import Any

import pytest

from contract import days, merkle, wire
from contract.daysums import DayAccumulator, part_from
from stack import MosquittoServer, free_port
from tests.agent.faults.conftest import (
    PlantClock,
    Received,
    assert_no_window_twice,
    assert_seqs_sound,
    assert_tiled,
    import_mes_hours,
    machine,
    modbus_device,
    start_agent,
    start_collector,
    start_sim,
    wait_for,
    write_agent_config,
    write_mes_hours,
)

pytestmark = pytest.mark.timeout(180)

SHANGHAI = days.zone("Asia/Shanghai")
#: 2026-03-02 23:50 in Shanghai: ten plant minutes before the day's end.
START = datetime(2026, 3, 2, 15, 50, tzinfo=UTC)
DAY = START.astimezone(SHANGHAI).date()
MIDNIGHT = days.day_bounds(DAY, SHANGHAI)[1]
SPEED = 60.0  # a plant minute a wall second: a restart (1 to 2 wall s) spans 1 to 2 windows
POLL_S = 5.0
GRACE_S = 60
KILLS = 6
SEED = 20261207
DEVICES = ("press-1", "press-2")


def test_sigkill_around_midnight_gives_one_correct_seal_per_device_and_a_whole_chain(
    tmp_path: Path, mosquitto: MosquittoServer, processes: ExitStack
) -> None:
    rng = random.Random(SEED)
    clock = PlantClock(SPEED, start=START)
    sim = start_sim(
        processes, tmp_path / "sim", clock, [machine("press-1", 1), machine("press-2", 2)]
    )
    devices = [
        modbus_device("press-1", sim, 1, poll_interval_s=POLL_S),
        modbus_device("press-2", sim, 2, poll_interval_s=POLL_S),
    ]
    config = write_agent_config(tmp_path / "agent", mosquitto, clock, devices, seal_grace_s=GRACE_S)
    collector = start_collector(processes, mosquitto, config.parent / "agent.key")
    agent = start_agent(processes, config, metrics_port=free_port())
    agent.wait_for_log("connected to broker")
    clock.sleep_until((MIDNIGHT - timedelta(minutes=3)).timestamp())
    killed_at: list[datetime] = []
    for _ in range(KILLS):  # from 23:57 on, each as soon as the run is up, at a random moment
        agent.wait_for_log("connected to broker")
        time.sleep(rng.uniform(0.0, 1.0))
        agent.kill()
        killed_at.append(datetime.fromtimestamp(clock.now(), UTC))
        collector.collect(quiet_s=0.01)
        agent.start()
    agent.wait_for_log("connected to broker")
    assert killed_at[0] < MIDNIGHT < killed_at[-1], killed_at  # the kills straddle midnight

    received = collector.wait_until(
        lambda r: {device for device, _ in r.seals} == set(DEVICES),
        60,
        f"both devices' seals of {DAY}",
    )
    wait_for(agent.outbox_empty, 30, "the last run to empty the outbox")
    assert agent.stop() == 0
    received = collector.collect(quiet_s=1.0, max_s=30)

    assert_seqs_sound(received)  # windows and seals: seq continued, never reused
    assert_no_window_twice(received)
    assert not received.seal_conflicts, f"one chain index, two seals: {received.seal_conflicts}"
    chains = received.day_seals()
    assert sorted(chains) == list(DEVICES)
    for device in DEVICES:
        _assert_chain_whole(chains[device])
        [(seal, _raw)] = chains[device]  # one seal of the day: never sealed short, then again
        assert (seal.day, seal.version, seal.tz) == (DAY, 1, "Asia/Shanghai")
        assert seal.dropped_windows == 0
        _assert_seal_is_what_was_received(seal, received)
        day_windows = [w for w in received.by_device()[device] if w.end <= MIDNIGHT]
        assert sum(w.quality.comm_loss_s for w in day_windows) > 0  # the kills' gaps, filled


def test_broker_down_across_midnight_seals_the_day_after_its_windows(
    tmp_path: Path, mosquitto: MosquittoServer, processes: ExitStack
) -> None:
    # From 23:30, so the first windows of the day are sent before the broker goes at 23:55.
    clock = PlantClock(2 * SPEED, start=START - timedelta(minutes=20))
    sim = start_sim(
        processes, tmp_path / "sim", clock, [machine("press-1", 1), machine("press-2", 2)]
    )
    devices = [
        modbus_device("press-1", sim, 1, poll_interval_s=POLL_S),
        modbus_device("press-2", sim, 2, poll_interval_s=POLL_S),
    ]
    config = write_agent_config(tmp_path / "agent", mosquitto, clock, devices, seal_grace_s=GRACE_S)
    collector = start_collector(processes, mosquitto, config.parent / "agent.key")
    agent = start_agent(processes, config, metrics_port=free_port())
    agent.wait_for_log("connected to broker")
    collector.wait_until(
        lambda r: sorted(r.by_device()) == list(DEVICES), 20, "the first windows of each device"
    )
    assert clock.now() < (MIDNIGHT - timedelta(minutes=5)).timestamp(), "too slow to test"
    clock.sleep_until((MIDNIGHT - timedelta(minutes=5)).timestamp())
    mosquitto.stop()
    clock.sleep_until((MIDNIGHT + timedelta(minutes=10)).timestamp())
    # The day is over and its grace too, but its windows since 23:55 are still in the outbox
    # (the next day's are all there: none was batched, so the ledger does not know that day yet).
    # Nine plant minutes past the grace are nine windows of progress into the next day; should a
    # loaded machine have kept the agent from closing them, it gets up to a minute more.
    wait_for(
        lambda: _waits_only_for_pending(agent.healthz()["day_seals"]["devices"]),
        60,
        f"{DAY} waiting for its pending windows only",
    )
    waiting = agent.healthz()["day_seals"]["devices"]
    for device in DEVICES:
        assert waiting[device]["newest_day"] is None
        assert waiting[device]["waiting"] == {DAY.isoformat(): "pending"}
    mosquitto.start()

    collector.wait_until(
        lambda r: {device for device, _ in r.seals} == set(DEVICES),
        60,
        f"both devices' seals of {DAY}",
    )
    wait_for(agent.outbox_empty, 30, "the agent's outbox to empty after the broker returned")
    assert agent.stop() == 0
    received = collector.collect(quiet_s=1.0, max_s=30)

    assert_seqs_sound(received)
    assert_no_window_twice(received)
    assert not received.seal_conflicts
    chains = received.day_seals()
    assert sorted(chains) == list(DEVICES)
    for device in DEVICES:
        _assert_chain_whole(chains[device])
        [(seal, _raw)] = chains[device]
        assert (seal.day, seal.version) == (DAY, 1)
        _assert_seal_is_what_was_received(seal, received)


def _waits_only_for_pending(devices: dict[str, Any]) -> bool:
    """True when each device's newest sealed day is none and :data:`DAY` waits only for
    windows still pending in the outbox (healthz's ``day_seals.devices``)."""
    return all(
        devices[device]["newest_day"] is None
        and devices[device]["waiting"] == {DAY.isoformat(): "pending"}
        for device in DEVICES
    )


def test_sigkill_between_a_batch_sent_and_its_fold_loses_and_doubles_nothing(
    tmp_path: Path, mosquitto: MosquittoServer, processes: ExitStack
) -> None:
    # The send path only queues a batch for the day ledger; the fold comes about a second
    # later. Each kill here comes while the outbox file holds a batch sent and not yet folded
    # (checked after the kill, from the file), so the next run must fold it once: the seal
    # then equals the part rebuilt from the windows the collector received. From 23:30, so a
    # slow start under load still leaves the kills well inside the day.
    clock = PlantClock(SPEED, start=START - timedelta(minutes=20))
    sim = start_sim(
        processes, tmp_path / "sim", clock, [machine("press-1", 1), machine("press-2", 2)]
    )
    devices = [
        modbus_device("press-1", sim, 1, poll_interval_s=POLL_S),
        modbus_device("press-2", sim, 2, poll_interval_s=POLL_S),
    ]
    config = write_agent_config(tmp_path / "agent", mosquitto, clock, devices, seal_grace_s=GRACE_S)
    outbox_path = config.parent / "outbox.sqlite"
    collector = start_collector(processes, mosquitto, config.parent / "agent.key")
    agent = start_agent(processes, config, metrics_port=free_port())
    killed_unfolded: list[list[int]] = []
    for _ in range(12):  # at most; three kills with a batch queued are enough
        agent.wait_for_log("connected to broker")
        wait_for(lambda: bool(_queued_seqs(outbox_path)), 30, "a batch sent, not yet folded")
        agent.kill()
        queued = _queued_seqs(outbox_path)  # what the dead run left: committed state only
        if queued:
            killed_unfolded.append(queued)
        collector.collect(quiet_s=0.01)
        agent.start()
        if len(killed_unfolded) == 3:
            break
    assert len(killed_unfolded) == 3, f"kills never found a batch queued: {killed_unfolded}"

    received = collector.wait_until(
        lambda r: {device for device, _ in r.seals} == set(DEVICES),
        60,
        f"both devices' seals of {DAY}",
    )
    wait_for(agent.outbox_empty, 30, "the last run to empty the outbox")
    assert agent.stop() == 0
    received = collector.collect(quiet_s=1.0, max_s=30)
    assert _queued_seqs(outbox_path) == []  # the stopping run folded what it sent

    assert_seqs_sound(received)
    assert_no_window_twice(received)
    assert not received.seal_conflicts
    chains = received.day_seals()
    sealed_seqs: set[int] = set()
    for device in DEVICES:
        _assert_chain_whole(chains[device])
        [(seal, _raw)] = chains[device]
        # Folded exactly once: the sealed part holds every window received, each once (a lost
        # fold gives fewer windows and another root, a double one more windows).
        _assert_seal_is_what_was_received(seal, received)
        sealed_seqs |= {
            seq
            for seq, windows in received.windows.items()
            if any(w.device == device and days.day_of(w.end, SHANGHAI) == DAY for w in windows)
        }
    # The batches the kills left unfolded were sent and are in the sealed day.
    assert all(set(seqs) <= sealed_seqs for seqs in killed_unfolded), killed_unfolded


def _queued_seqs(outbox_path: Path) -> list[int]:
    """The seqs of the batches in the outbox's fold queue, as committed (another connection)."""
    if not outbox_path.exists():
        return []
    db = sqlite3.connect(outbox_path, timeout=10)
    try:
        rows = db.execute("SELECT DISTINCT seq FROM fold_queue ORDER BY seq").fetchall()
    except sqlite3.OperationalError:  # the first run has not created its tables yet
        return []
    finally:
        db.close()
    return [seq for (seq,) in rows]


def test_an_import_into_a_sealed_day_seals_it_again_as_version_2(
    tmp_path: Path, mosquitto: MosquittoServer, processes: ExitStack
) -> None:
    # The agent goes live at 10:00; the day's first ten hours come later from the MES.
    live = datetime.combine(DAY, clock_time(10), tzinfo=SHANGHAI).astimezone(UTC)
    clock = PlantClock(1200.0, start=live)  # a plant day in 72 wall seconds
    sim = start_sim(processes, tmp_path / "sim", clock, [machine("press-1", 1)])
    devices = [modbus_device("press-1", sim, 1, poll_interval_s=60.0)]
    config = write_agent_config(
        tmp_path / "agent", mosquitto, clock, devices, seal_grace_s=GRACE_S, window_s=900
    )
    collector = start_collector(processes, mosquitto, config.parent / "agent.key")
    agent = start_agent(processes, config, metrics_port=free_port())
    collector.wait_until(lambda r: ("press-1", 1) in r.seals, 90, f"version 1 of {DAY}")

    report = write_mes_hours(tmp_path / "mes-hours.csv", DAY, range(10))
    imported = import_mes_hours(config, report, "press-1")
    assert imported.returncode == 0, imported.stdout + imported.stderr

    collector.wait_until(lambda r: ("press-1", 2) in r.seals, 60, f"version 2 of {DAY}")
    wait_for(agent.outbox_empty, 30, "the agent's outbox to empty")
    assert agent.stop() == 0
    received = collector.collect(quiet_s=1.0, max_s=30)

    assert_seqs_sound(received)
    assert not received.seal_conflicts
    chain = received.day_seals()["press-1"]
    _assert_chain_whole(chain)
    (first, first_raw), (second, _) = chain[:2]
    assert (first.day, first.version, second.day, second.version) == (DAY, 1, DAY, 2)
    assert second.supersedes == wire.day_seal_sha256(first_raw)
    [measured_v1] = first.parts
    imported_part, measured_v2 = second.parts
    assert measured_v2 == measured_v1  # the measured part, its Merkle root too, did not change
    day_start = days.day_bounds(DAY, SHANGHAI)[0]
    assert imported_part.provenance == "imported" and imported_part.windows == 10
    assert (imported_part.first_start, imported_part.last_end) == (day_start, live)
    assert imported_part.sums.total_count == 1000 and imported_part.sums.run_s == 10 * 3000.0
    _assert_seal_is_what_was_received(second, received, provenance="imported")


def _assert_chain_whole(chain: list[tuple[wire.DaySeal, bytes]]) -> None:
    """Indexes 1..n, each ``prev`` the hash of the seal before."""
    assert [seal.index for seal, _ in chain] == list(range(1, len(chain) + 1))
    assert chain[0][0].prev is None
    for (_, before), (after, _) in itertools.pairwise(chain):
        assert after.prev == wire.day_seal_sha256(before)


def _assert_seal_is_what_was_received(
    seal: wire.DaySeal, received: Received, provenance: str = "measured"
) -> None:
    """The seal's part of ``provenance`` is the part of the device's windows of the day (of that
    provenance) as they arrived."""
    sent = sorted(
        (seq, window.end, window.start, window)
        for seq, windows in received.windows.items()
        for window in windows
        if window.device == seal.device
        and window.provenance == provenance
        and days.day_of(window.end, SHANGHAI) == DAY
    )
    windows = [window for *_, window in sent]
    assert_tiled(sorted(windows, key=lambda w: w.start))
    rebuilt = DayAccumulator()
    for seq, *_, window in sent:
        rebuilt.add(window, seq)
    [part] = [p for p in seal.parts if p.provenance == provenance]
    assert part == part_from(rebuilt)
    records = [wire.canonical_bytes(w.model_dump(mode="json")) for w in windows]
    assert part.merkle_root == merkle.root(records).hex()
    assert part.first_start == min(w.start for w in windows)
    if provenance == "measured":
        assert max(w.end for w in windows) == part.last_end == MIDNIGHT  # not sealed short
    assert seal.seq > max(seq for seq, *_ in sent)


def test_a_clean_stop_after_midnight_seals_the_day_before_the_agent_exits(
    tmp_path: Path, mosquitto: MosquittoServer, processes: ExitStack
) -> None:
    # A grace of a plant day: only the stop can seal the day in this test's plant time.
    clock = PlantClock(SPEED, start=START)
    sim = start_sim(
        processes, tmp_path / "sim", clock, [machine("press-1", 1), machine("press-2", 2)]
    )
    devices = [
        modbus_device("press-1", sim, 1, poll_interval_s=POLL_S),
        modbus_device("press-2", sim, 2, poll_interval_s=POLL_S),
    ]
    config = write_agent_config(tmp_path / "agent", mosquitto, clock, devices, seal_grace_s=86400)
    collector = start_collector(processes, mosquitto, config.parent / "agent.key")
    agent = start_agent(processes, config, metrics_port=free_port())
    agent.wait_for_log("connected to broker")
    after_midnight = MIDNIGHT + timedelta(minutes=2)
    clock.sleep_until(after_midnight.timestamp())
    waiting = agent.healthz()["day_seals"]["devices"]
    assert all(waiting[device]["newest_day"] is None for device in DEVICES), waiting
    assert agent.stop() == 0  # SIGTERM
    # Acknowledged before the exit: the outbox the stopped agent left holds no seal.
    outbox = sqlite3.connect(config.parent / "outbox.sqlite")
    try:
        left = outbox.execute("SELECT count(*) FROM batches").fetchone()[0]
        sealed_days = outbox.execute("SELECT DISTINCT day FROM day_seals").fetchall()
    finally:
        outbox.close()
    assert sealed_days == [(DAY.isoformat(),)], agent.run_log()[-3000:]  # not the open day
    assert left == 0
    assert "sealed 2 closed device-days at stop" in agent.run_log()
    received = collector.collect(quiet_s=1.0, max_s=30)

    assert_seqs_sound(received)
    assert_no_window_twice(received)
    chains = received.day_seals()
    assert sorted(chains) == list(DEVICES)
    for device in DEVICES:
        [(seal, _raw)] = chains[device]
        assert (seal.day, seal.version, seal.index) == (DAY, 1, 1)
        _assert_seal_is_what_was_received(seal, received)
        after = [w for w in received.by_device()[device] if w.end > MIDNIGHT]
        assert after, "the new day's windows were sent too (not sealed)"
