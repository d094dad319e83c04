"""InfluxDB down, windows queued at the broker, the broker SIGKILLed and back empty (#19).

The third fault of issue 19, with every piece real and in its own process: the simulator, the
agent, mosquitto (no snapshot is ever taken: ``autosave_interval 0``, so a SIGKILL loses every
queued message and session), influxd and a ``retrofit-collector ingest`` replica. While
InfluxDB is down the replica holds its receive maximum of messages and the broker queues the
rest; the broker then dies and comes back empty. The agent had the broker's PUBACK for all of
them.

With ``delivery.confirm: required`` the agent kept them, awaiting the collector's signed
confirmation, and sends them again after ``resend_after_s``: every window reaches InfluxDB,
each seq once, with no gap. With ``confirm: off`` (as before #19) the queued windows are lost:
that case is expected to fail, and does.

Once the agent is stopped nothing new is published, so the test does not wait out a deadline
for seqs that may never come: it sends a marker window from another agent behind them
(the broker delivers the share group's queue in order) and waits until the marker is stored and
the replica holds nothing in flight. Every window the broker still had is then written, and the
seqs are compared: the ``off`` case fails there at once instead of after a 90 s wait.
"""

from __future__ import annotations

import itertools
import random
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from agent.keys import load_private_key
from agent.outbox import Outbox
from collector.registry import Registry
from contract.keys import generate_key_pair
from stack import InfluxServer, MosquittoServer, free_port
from tests.agent.faults.conftest import (
    PlantClock,
    machine,
    modbus_device,
    start_agent,
    start_sim,
    wait_for,
    write_agent_config,
)
from tests.collector.faults.harness import (
    IngestProcess,
    Publisher,
    SigningAgent,
    count_windows,
    ingest_ready,
    make_agents,
    register,
    write_config,
)
from tests.conftest import InfluxFactory, MosquittoFactory

pytestmark = pytest.mark.timeout(240)

SPEED = 60.0  # a plant minute a wall second: each device closes a window a second
POLL_S = 5.0
DEVICES = ("press-1", "press-2")
#: The replica's receive maximum: it holds this many messages while InfluxDB is down; the
#: broker queues the rest, and those are what a broker restarted empty loses.
INFLIGHT = 4
#: Wall seconds InfluxDB is down before the broker dies: ~2 windows a second queue up.
OUTAGE_S = 12.0


def ingest_inflight(collector_config: dict[str, Any]) -> int:
    """The replica's ``rv_ingest_inflight_messages``: messages in its hands, not yet settled."""
    port = collector_config["ingest"]["metrics_port"]
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    [line] = [line for line in text.splitlines() if line.startswith("rv_ingest_inflight_messages")]
    return int(float(line.rsplit(" ", 1)[1]))


def wait_drained(
    broker: MosquittoServer,
    influxd: InfluxServer,
    probe: SigningAgent,
    collector_config: dict[str, Any],
) -> None:
    """Publish the probe's second window behind whatever the broker still queues for the
    replica; return once it is stored and the replica has nothing in flight, so every message
    queued before it is settled (written, or refused and counted)."""
    with Publisher(broker, client_id="drain-marker") as publisher:
        publisher.send(probe.topic, probe.payload(2))
        publisher.wait_acked(10)
    marker_stored = f"\"agent\" = '{probe.agent}'"
    wait_for(
        lambda: (
            count_windows(influxd, marker_stored) >= 2 * len(probe.devices)
            and ingest_inflight(collector_config) == 0
        ),
        90,
        "the marker window stored and the replica holding nothing",
    )


def window_points(influxd: InfluxServer) -> list[tuple[str, int, int, float]]:
    """(device, seq, window start ms, duration s) of every window point of the agent.

    InfluxDB 1.6 keeps each field apart, and once answered a row of this query with ``seq``
    None, just after it was started again while the replica wrote (a read racing the write or
    the WAL's replay; the test then failed on ``int(None)``). Such a row is left out and read
    whole by the next poll; the final reads come after the replica drained, and a window still
    without its seq then is a missing seq, which the assertions name.
    """
    rows = influxd.query_rows(
        "rv",
        'SELECT "seq", "window_start_ms", "duration_s" FROM "rv"."raw"."kpi_window" '
        'WHERE "agent" = \'gw-01\' GROUP BY "device"',
    )
    fields = ("seq", "window_start_ms", "duration_s")
    return [
        (row["device"], int(row["seq"]), int(row["window_start_ms"]), float(row["duration_s"]))
        for row in rows
        if all(row[name] is not None for name in fields)
    ]


@pytest.mark.parametrize(
    "confirm",
    [
        "required",
        pytest.param(
            "off",
            marks=pytest.mark.xfail(
                strict=True, reason="a PUBACK is not delivery: the broker lost what it held"
            ),
        ),
    ],
)
def test_windows_queued_at_a_broker_that_died_empty_still_reach_influxdb_once(
    tmp_path: Path,
    mosquitto_factory: MosquittoFactory,
    influxd_factory: InfluxFactory,
    processes: ExitStack,
    confirm: str,
) -> None:
    broker: MosquittoServer = mosquitto_factory(autosave_interval_s=0)
    influxd: InfluxServer = influxd_factory()
    influxd.create_database("rv")
    clock = PlantClock(SPEED)
    sim = start_sim(
        processes, tmp_path / "sim", clock, [machine("press-1", 1), machine("press-2", 2)]
    )
    devices = [
        modbus_device(device, sim, unit, poll_interval_s=POLL_S)
        for unit, device in enumerate(DEVICES, 1)
    ]
    config = write_agent_config(tmp_path / "agent", broker, clock, devices)

    # The collector: the agent registered, a confirmation key, one ingest replica.
    collector_key = tmp_path / "collector" / "confirmation.key"
    collector_public = generate_key_pair(collector_key, refusal="test")
    probe = make_agents(random.Random(19), 1, devices=1)[0]
    agent = SigningAgent("gw-01", "ent-01", load_private_key(config.parent / "agent.key"), DEVICES)
    registry_path = tmp_path / "collector" / "registry.sqlite"
    register(registry_path, [agent, probe])
    collector_config = write_config(
        tmp_path / "collector" / "collector.yaml", registry_path, broker, influxd,
        inflight=INFLIGHT,
    )  # fmt: skip
    document = yaml.safe_load(collector_config.read_text())
    document["ingest"].update(
        confirmation_key_path=str(collector_key), confirm_every_s=0.2, metrics_port=free_port()
    )
    collector_config.write_text(yaml.safe_dump(document))
    collector_document = document
    replica = IngestProcess(collector_config, "collector-1", tmp_path / "ingest.log")
    processes.callback(replica.stop)
    replica.start()
    ingest_ready(broker, influxd, probe)

    document = yaml.safe_load(config.read_text())
    document["delivery"] = {
        "confirm": confirm,
        "collector_keys": [collector_public],
        "resend_after_s": 5,
    }
    config.write_text(yaml.safe_dump(document))
    gateway = start_agent(processes, config, metrics_port=free_port())
    gateway.wait_for_log("connected to broker")
    wait_for(lambda: len(window_points(influxd)) >= 4, 60, "the first windows stored")

    influxd.stop()
    next_seq_at_outage = gateway.healthz()["outbox"]["next_seq"]
    clock.sleep_plant(OUTAGE_S * SPEED)
    sent_during = gateway.healthz()["outbox"]["next_seq"] - next_seq_at_outage
    # More batches than the replica holds: the rest wait at the broker, in memory only.
    assert sent_during > INFLIGHT + 2, f"only {sent_during} batches sent during the outage"
    # Status and metrics show what the agent keeps for the collector's word (none with off).
    awaiting = gateway.metrics()["rv_agent_outbox_awaiting_confirmation"]
    assert (awaiting > 0) == (confirm == "required"), awaiting
    assert (gateway.healthz()["outbox"]["awaiting_confirmation"] > 0) == (awaiting > 0)
    broker.kill()  # no snapshot was ever taken: it comes back with nothing queued
    broker.start()
    influxd.start()

    # Windows closed after the restart reach InfluxDB: the replica and the agent are back.
    back_at = clock.now()
    wait_for(
        lambda: any(start / 1000 >= back_at for _, _, start, _ in window_points(influxd)),
        90,
        "a window closed after the restart stored",
    )
    assert gateway.stop() == 0
    outbox = Outbox(config.parent / "outbox.sqlite")
    stats = outbox.stats()
    outbox.close()
    last_seq = stats.next_seq - 1
    wait_drained(broker, influxd, probe, collector_document)
    points = window_points(influxd)
    assert {seq for _, seq, _, _ in points} == set(range(1, last_seq + 1))
    for device in DEVICES:
        spans = sorted((start, duration) for d, _, start, duration in points if d == device)
        for (start, duration), (following, _) in itertools.pairwise(spans):
            assert start + round(duration * 1000) == following, (device, start)  # no gap
    with Registry(registry_path) as registry:
        assert registry.seq_gaps("gw-01") == []
        assert registry.highest_seq("gw-01") == last_seq
        # Re-sent batches were duplicates (same seq, same bytes): never replays, never noise.
        assert registry.quarantine_counts() == {}
    assert replica.alive(), replica.tail()
