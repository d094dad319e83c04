"""Faults on a site of five hosts while the fleet publishes (tests/collector/hosts/site.py).

Two ingest replicas, one per collector host, share the broker's group and the registry on
PostgreSQL; each reaches the database host only over its own db link. Every fault ends with the
same checks: every window in InfluxDB exactly once, every seq recorded once with no gap left
open and no replay, and no replica stuck: it resumed by itself (its share of the messages was
stored) or exited non-zero for its supervisor, who starts it again.
"""

from __future__ import annotations

import random
import time

import pytest

from tests.collector.faults.harness import (
    SigningAgent,
    assert_stored_exactly_once,
    ingest_ready,
    make_agents,
    register,
)
from tests.collector.faults.test_replicas_killed import seq_counters
from tests.collector.hosts.site import Flow, HostReplica, Site

pytestmark = pytest.mark.timeout(420)

#: Seconds a replica lives between kills, and stays dead after one (uniform at random).
LIFE_S = (0.5, 3.0)
DEAD_S = (0.0, 1.0)
MIN_KILLS = 5
MAX_KILL_FLOW_S = 90.0
#: The db link of one collector host is down this long (the issue's 30 s).
CUT_S = 30.0
POSTGRES_DOWN_S = 8.0
#: Flow before and after a fault, so it lands mid-flow and recovery is seen under traffic.
AROUND_S = 5.0


def start_site(site: Site, seed: int) -> list[SigningAgent]:
    """Register agents, start both replicas, and wait until each agent's probe is stored."""
    agents = make_agents(random.Random(seed), 4, devices=3)
    register(site.registry_url, agents)
    for replica in site.make_replicas():
        replica.start()
    for agent in agents:
        ingest_ready(site.broker, site.influx, agent, seq=1)
    return agents


def supervise(replica: HostReplica) -> None:
    """Not stuck: running, or exited non-zero and started again (what systemd would do)."""
    if replica.alive():
        return
    assert replica.process is not None
    code = replica.process.returncode
    assert code not in (0, None), f"{replica.client_id} exited {code}: {replica.tail()}"
    replica.start()


def check_site(site: Site, agents: list[SigningAgent], last_seq: int) -> None:
    """Every window once, seqs clean, no replay, no replica stuck."""
    for replica in site.replicas.values():
        supervise(replica)
    assert_stored_exactly_once(site.influx, site.registry_url, agents, last_seq, site.logs)
    _duplicates, replays = seq_counters(site.registry_url)
    assert replays == 0


def test_a_replica_killed_again_and_again_while_the_fleet_publishes(site: Site) -> None:
    agents = start_site(site, seed=1901)
    victim = site.replicas["coll-1"]
    rng = random.Random(1902)
    kills = 0
    with Flow(site, agents) as flow:
        start = time.monotonic()
        while kills < MIN_KILLS and time.monotonic() - start < MAX_KILL_FLOW_S:
            time.sleep(rng.uniform(*LIFE_S))
            victim.kill()
            kills += 1
            time.sleep(rng.uniform(*DEAD_S))
            victim.start()
    assert flow.error is None, repr(flow.error)
    assert kills >= MIN_KILLS, f"only {kills} kills in {MAX_KILL_FLOW_S:g} s"
    check_site(site, agents, flow.last_seq)
    for replica in site.replicas.values():
        assert replica.stop() == 0, replica.tail()


def test_postgres_killed_and_restarted_mid_flow(site: Site) -> None:
    agents = start_site(site, seed=1903)
    with Flow(site, agents) as flow:
        time.sleep(AROUND_S)
        site.postgres.kill()
        time.sleep(POSTGRES_DOWN_S)
        site.postgres.start()  # crash recovery replays the WAL
        time.sleep(AROUND_S)
    assert flow.error is None, repr(flow.error)
    check_site(site, agents, flow.last_seq)
    logs = "".join(rep.log_path.read_text(errors="replace") for rep in site.replicas.values())
    # Seen by the registry's pool, which replaced the dead connections; the ingest says
    # "registry unavailable" only if no new connection came within 10 s (timing: not checked).
    assert "a pooled connection was broken" in logs, "the outage was never seen"


#: An operator's own libpq options in the registry URL's query (tighter than the collector's
#: TCP_BOUNDS, which a URL without them gets: docs/operations.md).
TCP_BOUNDS = "?tcp_user_timeout=5000&keepalives_idle=5&keepalives_interval=2&keepalives_count=2"


@pytest.mark.parametrize("url_options", ["", TCP_BOUNDS], ids=["shipped-bounds", "url-bounds"])
def test_a_collector_hosts_database_link_cut_for_30_s(site: Site, url_options: str) -> None:
    site.registry_url += url_options
    agents = start_site(site, seed=1904)
    written = "rv_ingest_written_records_total"
    with Flow(site, agents) as flow:
        time.sleep(AROUND_S)
        site.hosts.cut("coll-1", site.db)
        at_cut = site.metric("coll-1", written)
        time.sleep(CUT_S)
        at_restore = site.metric("coll-1", written)
        site.hosts.restore("coll-1", site.db)
        time.sleep(AROUND_S)
    assert flow.error is None, repr(flow.error)
    check_site(site, agents, flow.last_seq)
    # The cut bit: nothing written during it but a write in flight at the cut (one batch of
    # at most inflight envelopes of 3 windows).
    assert at_restore - at_cut <= 16 * 3, (at_cut, at_restore)
    if site.replicas["coll-1"].starts == 1:  # it resumed by itself (else supervise() saw it
        # exit non-zero and started it): its share was written after the link came back.
        assert site.metric("coll-1", written) > at_restore, site.logs()
    # The dead link became an error within seconds, and retries (the shipped bounds, or the URL's)
    log = site.replicas["coll-1"].log_path.read_text(errors="replace")
    assert "registry unavailable" in log, site.logs()
