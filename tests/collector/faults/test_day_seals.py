"""Day seals through a real ingest (mosquitto, influxd, ``retrofit-collector ingest``): kept,
checked against the stored day after each rollup refresh, or quarantined with their reason.

The seals are signed as an agent would sign them, their parts computed with
``contract.daysums`` from the windows the test published (tests/collector/seal_helpers.py).
"""

from __future__ import annotations

import datetime as dt
import os
import random
import signal
from pathlib import Path

import httpx
import pytest
import yaml

from collector.registry import DayCheck, Registry
from contract import wire
from stack import InfluxServer, MosquittoServer, free_port
from tests.collector.faults.conftest import ReplicaFactory
from tests.collector.faults.harness import (
    IngestProcess,
    Publisher,
    SigningAgent,
    count_windows,
    ingest_ready,
    register,
    seeded_key,
    wait_until,
    window,
    write_config,
)
from tests.collector.registry_backends import raw_rows

pytestmark = pytest.mark.timeout(180)

SEED = 1717
#: T0 + n minutes is 08:0n in Asia/Shanghai, the example plan's zone: all on this local day.
DAY = dt.date(2026, 6, 1)

Published = list[tuple[int, wire.KpiWindow]]


def _agents() -> tuple[SigningAgent, SigningAgent]:
    rng = random.Random(SEED)
    sealing = SigningAgent("gw-seal", "ent-01", seeded_key(rng), ("dev-0", "dev-1"))
    probe = SigningAgent("gw-probe", "ent-02", seeded_key(rng), ("dev-0",))
    return sealing, probe


def _start(
    broker: MosquittoServer,
    influx: InfluxServer,
    replicas: ReplicaFactory,
    tmp_path: Path,
    agents: tuple[SigningAgent, SigningAgent],
    registry_path: Path | str | None = None,
) -> tuple[Path | str, IngestProcess]:
    registry_path = registry_path or tmp_path / "registry.sqlite"
    register(registry_path, agents)
    config = write_config(tmp_path / "collector.yaml", registry_path, broker, influx, inflight=8)
    document = yaml.safe_load(config.read_text(encoding="utf-8"))
    document["ingest"]["metrics_port"] = free_port()
    config.write_text(yaml.safe_dump(document), encoding="utf-8")
    replica = replicas(config, "collector-seals")
    replica.start()
    ingest_ready(broker, influx, agents[1])
    return registry_path, replica


def _publish(broker: MosquittoServer, *messages: tuple[str, bytes]) -> None:
    with Publisher(broker, client_id="seal-test") as publisher:
        publisher.send_all(messages)


def _metrics(config: Path) -> dict[str, float]:
    """The ingest's ``/metrics``: ``name{labels}`` -> value."""
    port = yaml.safe_load(config.read_text(encoding="utf-8"))["ingest"]["metrics_port"]
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    return {
        line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line and not line.startswith("#")
    }


def _windows(envelopes: list[wire.Envelope], device: str) -> Published:
    return [(env.seq, w) for env in envelopes for w in env.records if w.device == device]


def _checks(registry_path: Path | str) -> dict[tuple[str, str], DayCheck]:
    with Registry(registry_path) as registry:
        return {(c.device, c.provenance): c for c in registry.day_checks("ent-01", DAY, DAY)}


def _wait_check(
    registry_path: Path | str, replica: IngestProcess, device: str, outcome: str, *fields: str
) -> DayCheck:
    def found() -> bool:
        check = _checks(registry_path).get((device, "measured"))
        named = {d.field for d in check.differences} if check else set()
        return check is not None and check.outcome == outcome and set(fields) <= named

    wait_until(
        found,
        60,
        f"{device} {outcome} {fields}",
        lambda: f"(have {_checks(registry_path)}; {replica.tail()})",
    )
    return _checks(registry_path)[(device, "measured")]


def test_seals_are_kept_or_quarantined_with_their_reason(
    broker: MosquittoServer, influx: InfluxServer, replicas: ReplicaFactory, tmp_path: Path
) -> None:
    agent, probe = _agents()
    registry_path, replica = _start(broker, influx, replicas, tmp_path, (agent, probe))
    envelopes = [agent.envelope(seq) for seq in (1, 2, 3)]
    chain = agent.seal_chain("dev-0")
    published = _windows(envelopes, "dev-0")
    good = chain.seal(DAY, published, seq=4)
    other_key = seeded_key(random.Random(SEED + 1))
    stranger = SigningAgent("gw-seal", "ent-01", agent.key, ("dev-9",)).seal_chain("dev-9")
    refused = {
        "seal_conflict": chain.seal(DAY, published[:2], seq=5, index=1),
        "bad_signature": chain.seal(DAY, published, seq=6, index=2, key=other_key),
        "unknown_device": stranger.seal(
            DAY, [(1, window("dev-9", envelopes[0].records[0].start))], seq=7
        ),
        "seal_zone": chain.seal(DAY, published, seq=8, index=3, tz="Europe/Berlin"),
        # Seq 2 carried an envelope: a seal under it is a replay, whatever it says.
        "replay": chain.seal(DAY, published[:1], seq=2, index=4),
    }
    _publish(
        broker,
        *((agent.topic, wire.encode(env)) for env in envelopes),
        (agent.seals_topic, good),
        (agent.seals_topic, good),  # delivered again: a duplicate
        *((agent.seals_topic, raw) for raw in refused.values()),
    )

    def quarantined() -> dict[str, int]:
        with Registry(registry_path) as registry:
            return registry.quarantine_counts()

    wait_until(lambda: sum(quarantined().values()) >= len(refused), 60, "seals quarantined",
               lambda: f"(have {quarantined()}; {replica.tail()})")  # fmt: skip
    assert quarantined() == dict.fromkeys(refused, 1)
    with Registry(registry_path) as registry:
        kept = registry.day_seals_of_days([("ent-01", "dev-0", DAY), ("ent-01", "dev-9", DAY)])
        assert [entry.seal_sha256 for entry in kept] == [wire.day_seal_sha256(good)]
        details = {entry.reason: entry.detail for entry in registry.quarantine_list()}
        assert registry.highest_seq("gw-seal") == 5  # refused before their seqs: 6, 7, 8
    assert "closes days in Europe/Berlin, ent-01's plan says Asia/Shanghai" in details["seal_zone"]
    assert "chain index 1" in details["seal_conflict"]
    assert "dev-9" in details["unknown_device"]

    # The refresh after the seal checks the day: dev-0 equal, dev-1 (no seal) unsealed.
    equal = _wait_check(registry_path, replica, "dev-0", "sealed_equal")
    assert equal.seal_sha256 == wire.day_seal_sha256(good) and equal.root_checked
    assert equal.differences == ()
    unsealed = _wait_check(registry_path, replica, "dev-1", "unsealed")
    assert unsealed.seal_sha256 is None
    assert "day seal of gw-seal/dev-0 2026-06-01 version 1 (index 1, seq 4): new" in (
        replica.log_path.read_text()
    )
    metrics = _metrics(replica.config)
    assert metrics['rv_ingest_day_seals_total{outcome="new"}'] == 1
    assert metrics['rv_ingest_day_seals_total{outcome="duplicate"}'] == 1
    assert metrics['rv_ingest_day_seals_total{outcome="quarantined"}'] == len(refused)
    assert metrics['rv_ingest_quarantined_total{reason="seal_zone"}'] == 1
    assert metrics['rv_day_checks_total{outcome="sealed_equal"}'] >= 1


def test_the_check_names_what_differs_from_the_seal(
    broker: MosquittoServer, influx: InfluxServer, replicas: ReplicaFactory, tmp_path: Path
) -> None:
    agent, probe = _agents()
    registry_path, replica = _start(broker, influx, replicas, tmp_path, (agent, probe))
    envelopes = [agent.envelope(seq) for seq in (1, 2, 3)]
    seal = agent.seal_chain("dev-0").seal(DAY, _windows(envelopes, "dev-0"), seq=4)

    # The seal before its windows: different (no row: 0 windows stored), then equal.
    _publish(broker, (agent.seals_topic, seal))
    early = _wait_check(registry_path, replica, "dev-0", "sealed_different", "windows")
    assert ("windows", 0, 3) in {(d.field, d.stored, d.sealed) for d in early.differences}
    _publish(broker, *((agent.topic, wire.encode(env)) for env in envelopes))
    _wait_check(registry_path, replica, "dev-0", "sealed_equal")

    # Minute 2's windows re-sent under a new seq with other content: InfluxDB merges them into
    # the stored points, and the check names the root, the changed sums and the seq range.
    resent = agent.envelope(5, minute=2, run_s=40.0)
    _publish(broker, (agent.topic, wire.encode(resent)))
    different = _wait_check(
        registry_path, replica, "dev-0", "sealed_different", "merkle_root", "run_s"
    )
    named = {d.field: (d.stored, d.sealed) for d in different.differences}
    assert named["run_s"] == (140.0, 150.0)
    assert named["idle_s"] == (40.0, 30.0)
    assert named["seq_last"] == (5, 3)
    assert different.seal_sha256 == wire.day_seal_sha256(seal)
    # dev-1 was never sealed; the re-sent window changed it too, and it stays unsealed.
    assert _checks(registry_path)[("dev-1", "measured")].outcome == "unsealed"


def test_a_seal_kept_but_not_acknowledged_comes_again_as_a_duplicate(
    broker: MosquittoServer,
    influx: InfluxServer,
    replicas: ReplicaFactory,
    tmp_path: Path,
    registry_location: Path | str,
) -> None:
    """On SQLite and PostgreSQL: the replica is killed after the seal is in the registry and
    before its acknowledgement left (held behind a window whose write waits on a frozen
    InfluxDB: acks leave in receive order). The broker delivers both again; the seal is kept
    once, counted a duplicate, never a conflict or a replay."""
    agent, probe = _agents()
    registry_path, replica = _start(
        broker, influx, replicas, tmp_path, (agent, probe), registry_location
    )
    envelopes = [agent.envelope(seq) for seq in (1, 2, 3)]
    seal = agent.seal_chain("dev-0").seal(DAY, _windows(envelopes, "dev-0"), seq=4)
    sha = wire.day_seal_sha256(seal)
    _publish(broker, *((agent.topic, wire.encode(env)) for env in envelopes[:2]))
    wait_until(lambda: count_windows(influx, "\"agent\" = 'gw-seal'") == 4, 30, "2 windows")

    def kept() -> bool:
        with Registry(registry_path) as registry:
            return registry.day_seal(sha) is not None

    pid = influx.pid
    assert pid is not None
    os.kill(pid, signal.SIGSTOP)
    try:
        _publish(broker, (agent.topic, wire.encode(envelopes[2])), (agent.seals_topic, seal))
        wait_until(kept, 30, "the seal kept", replica.tail)
        replica.kill()
    finally:
        os.kill(pid, signal.SIGCONT)
    replica.start()

    def seal_duplicates() -> int:
        (row,) = raw_rows(
            registry_path,
            "SELECT duplicates FROM agent_seqs WHERE agent_id = 'gw-seal' AND seq = 4",
        )
        return int(str(row[0]))

    wait_until(lambda: seal_duplicates() >= 1, 60, "the seal delivered again", replica.tail)
    wait_until(lambda: count_windows(influx, "\"agent\" = 'gw-seal'") == 6, 30, "3 windows")
    with Registry(registry_path) as registry:
        assert [e.seal_sha256 for e in registry.day_seal_chain("gw-seal", "dev-0")] == [sha]
        assert registry.quarantine_counts() == {}
    _wait_check(registry_path, replica, "dev-0", "sealed_equal")
    assert "(index 1, seq 4): duplicate" in Path(replica.log_path).read_text()
