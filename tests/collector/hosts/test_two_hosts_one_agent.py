"""Two replicas on two hosts get one agent's messages out of order, at once: one decision.

The broker's share group deals the agent's messages to both replicas, each on its own host
with its own connection pool to the registry on the database host. Every seq comes twice with
the same bytes (one copy is a duplicate), and every REPLAY_EVERY-th seq also twice with other
bytes, validly signed (a replay: same seq, other content). All of it shuffled and published
with many in flight, so the two replicas decide the same seqs concurrently.

What one host would decide, whichever copy comes first (docs/wire-contract.md): the first
content stored for a seq is the seq's; each later copy is a duplicate if its bytes are the
same, a replay (quarantined) if not. So per seq: one window in InfluxDB, of the content the
registry recorded; duplicates 1 and replays 0, or for a replayed seq, whichever content won,
duplicates 1 and replays 2. Seqs arrive far out of order: gaps open and all close.
"""

from __future__ import annotations

import hashlib
import random

import pytest

from collector.registry import Registry
from tests.collector.faults.harness import (
    count_windows,
    ingest_ready,
    make_agents,
    register,
    wait_until,
)
from tests.collector.hosts.site import Site
from tests.collector.registry_backends import raw_rows

pytestmark = pytest.mark.timeout(300)

SEQS = 120
REPLAY_EVERY = 5
ORIGINAL_RUN_S, OTHER_RUN_S = 50.0, 40.0


def test_two_hosts_decide_one_agents_seqs_as_one_host_would(site: Site) -> None:
    rng = random.Random(1905)
    (agent,) = make_agents(rng, 1, devices=2)
    register(site.registry_url, [agent])
    for replica in site.make_replicas(inflight=8):
        replica.start()
    ingest_ready(site.broker, site.influx, agent, seq=1)

    original = {seq: agent.payload(seq, run_s=ORIGINAL_RUN_S) for seq in range(2, SEQS + 1)}
    replayed = {seq for seq in original if seq % REPLAY_EVERY == 0}
    other = {seq: agent.payload(seq, run_s=OTHER_RUN_S) for seq in replayed}
    messages = [payload for payload in original.values() for _ in range(2)]
    messages += [payload for payload in other.values() for _ in range(2)]
    rng.shuffle(messages)
    with site.fleet_publisher("one-agent") as publisher:
        publisher.send_all((agent.topic, payload) for payload in messages)

    expected_quarantined = 2 * len(replayed)
    wait_until(
        lambda: (
            _quarantined(site) >= expected_quarantined
            and count_windows(site.influx) >= SEQS * len(agent.devices)
        ),
        90,
        "every message decided",
        site.logs,
    )
    stored = _stored_run_s(site)
    assert sorted(stored) == [
        (device, seq) for device in agent.devices for seq in range(1, SEQS + 1)
    ]
    assert count_windows(site.influx) == SEQS * len(agent.devices)  # no point twice
    recorded = _seq_rows(site, agent.agent)
    assert sorted(recorded) == list(range(1, SEQS + 1))  # each seq recorded once
    for seq in range(2, SEQS + 1):
        sha256, duplicates, replays = recorded[seq]
        run_s = {stored[(device, seq)] for device in agent.devices}
        assert len(run_s) == 1, f"seq {seq}: devices stored from two contents {run_s}"
        winner = original[seq] if run_s == {ORIGINAL_RUN_S} else other[seq]
        assert sha256 == hashlib.sha256(winner).hexdigest(), f"seq {seq}: InfluxDB != registry"
        assert (duplicates, replays) == ((1, 2) if seq in replayed else (1, 0)), f"seq {seq}"
    assert _quarantined(site) == expected_quarantined
    with Registry(site.registry_url) as registry:
        assert registry.quarantine_counts() == {"replay": expected_quarantined}
        assert registry.seq_gaps(agent.agent) == []
        assert registry.highest_seq(agent.agent) == SEQS
    assert all(replica.alive() for replica in site.replicas.values()), site.logs()
    for host in site.replicas:  # both hosts took part, not one while the other idled
        assert site.metric(host, "rv_ingest_received_total") > 0, host


def _quarantined(site: Site) -> int:
    (row,) = raw_rows(site.registry_url, "SELECT count(*) FROM quarantine")
    return int(str(row[0]))


def _seq_rows(site: Site, agent_id: str) -> dict[int, tuple[str, int, int]]:
    rows = raw_rows(
        site.registry_url,
        f"SELECT seq, sha256, duplicates, replays FROM agent_seqs WHERE agent_id = '{agent_id}'",  # noqa: S608 - test-made id
    )
    return {int(str(seq)): (str(sha), int(str(dup)), int(str(rep))) for seq, sha, dup, rep in rows}


def _stored_run_s(site: Site) -> dict[tuple[str, int], float]:
    rows = site.influx.query_rows(
        "rv", 'SELECT "seq", "run_s" FROM "rv"."raw"."kpi_window" GROUP BY "device"'
    )
    stored: dict[tuple[str, int], float] = {}
    for row in rows:
        key = (row["device"], int(row["seq"]))
        assert key not in stored, f"{key} stored twice"
        stored[key] = float(row["run_s"])
    return stored
