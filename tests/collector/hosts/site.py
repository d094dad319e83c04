"""A central site on five hosts of one machine, for the collector's multi-host fault tests.

```
           lan 10.231.a.0/24                      db 10.231.b.0/24
 fleet ──┐                                   ┌── database (PostgreSQL :5432, influxd :8086)
 broker ─┤ (mosquitto :1883)                 │
 coll-1 ─┼───────────────────────────────────┼── coll-1   (retrofit-collector ingest)
 coll-2 ─┘         we (the test) hold .1 on both segments  └── coll-2
```

Each collector host has two links, as a site with a separate storage network would: its lan
link to the broker and its db link to the database host, so cutting the db link cuts exactly
collector → database and leaves the broker session up. The replicas reach the registry
(PostgreSQL) and InfluxDB only over that link, and each has its own config file; nothing is
shared on disk. The fleet publishes from its own host; we observe from the root namespace.
"""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import yaml

from stack import Hosts, InfluxServer, MosquittoServer, PostgresServer, Segment
from stack.netns import entered
from tests.collector.faults.harness import (
    INGEST,
    START_TIMEOUT_S,
    IngestProcess,
    Publisher,
    SigningAgent,
    write_config,
)

COLLECTOR_HOSTS = ("coll-1", "coll-2")
MQTT_PORT = 1883
INFLUX_HTTP_PORT, INFLUX_RPC_PORT = 8086, 8088
POSTGRES_PORT = 5432
#: Every replica serves its metrics on this port of its own host's loopback: the same number on
#: each host, which only separate network namespaces allow.
METRICS_PORT = 9102


@dataclass
class HostReplica(IngestProcess):
    """``retrofit-collector ingest`` run inside a host's namespace (``ip netns exec``, which
    execs the command: the pid is the replica's own, for SIGKILL)."""

    netns: str = ""

    def start(self) -> None:
        """Start it and wait until it says it is connected. Raises AssertionError if not."""
        assert self.process is None or self.process.poll() is not None, "already running"
        self._close_log()
        self._log = self.log_path.open("ab")
        offset = self.log_path.stat().st_size
        argv = ["ip", "netns", "exec", self.netns, str(INGEST), "ingest"]
        argv += ["--config", str(self.config), "--client-id", self.client_id]
        self.process = subprocess.Popen(argv, stdout=self._log, stderr=self._log)
        self.starts += 1
        deadline = time.monotonic() + START_TIMEOUT_S
        while b"connected to" not in self.log_path.read_bytes()[offset:]:
            assert self.process.poll() is None, f"ingest exited: {self.tail()}"
            assert time.monotonic() < deadline, f"ingest did not connect: {self.tail()}"
            time.sleep(0.05)


@dataclass
class Site:
    """The five hosts, their servers, and one (unstarted) replica per collector host."""

    hosts: Hosts
    lan: Segment
    db: Segment
    broker: MosquittoServer
    influx: InfluxServer
    postgres: PostgresServer
    registry_url: str
    workdir: Path
    replicas: dict[str, HostReplica] = field(default_factory=dict)

    def make_replicas(self, inflight: int = 16) -> list[HostReplica]:
        """One replica per collector host, each with its own config in its own directory."""
        for host in COLLECTOR_HOSTS:
            home = self.workdir / host
            home.mkdir(exist_ok=True)
            config = write_config(
                home / "collector.yaml",
                self.registry_url,
                self.broker,
                self.influx,
                inflight=inflight,
            )
            document = yaml.safe_load(config.read_text(encoding="utf-8"))
            document["ingest"]["metrics_port"] = METRICS_PORT
            config.write_text(yaml.safe_dump(document), encoding="utf-8")
            self.replicas[host] = HostReplica(
                config, host, home / "ingest.log", netns=self.hosts.netns(host)
            )
        return list(self.replicas.values())

    def metric(self, host: str, name: str) -> float:
        """The sum of metric `name` (all label sets) of the replica on `host`, read from inside
        that host, where its loopback listener is."""
        with entered(self.hosts.netns(host)):
            url = f"http://127.0.0.1:{METRICS_PORT}/metrics"
            text = httpx.get(url, timeout=10).text
        return sum(
            float(line.rsplit(" ", 1)[1])
            for line in text.splitlines()
            if line.startswith(name) and line[len(name) : len(name) + 1] in ("{", " ")
        )

    def logs(self, lines: int = 8) -> str:
        """The last lines of every replica's log, for a failure message."""
        return "\n".join(f"--- {host}\n{rep.tail(lines)}" for host, rep in self.replicas.items())

    @contextmanager
    def fleet_publisher(self, client_id: str) -> Iterator[Publisher]:
        """A Publisher whose MQTT session runs from the fleet host (its socket and its paho
        thread made inside the fleet's namespace)."""
        publisher = Publisher(self.broker, client_id=client_id)
        with entered(self.hosts.netns("fleet")):
            publisher.__enter__()
        try:
            yield publisher
        finally:
            publisher.__exit__(None, None, None)


@contextmanager
def central_site(workdir: Path) -> Iterator[Site]:
    """Build the hosts, start the servers on them; everything stopped and deleted afterwards."""
    with Hosts() as hosts:
        lan, db = hosts.segment("lan"), hosts.segment("db")
        for host in ("fleet", "broker", *COLLECTOR_HOSTS):
            hosts.attach(host, lan)
        for host in ("database", *COLLECTOR_HOSTS):
            hosts.attach(host, db)
        broker = MosquittoServer(
            workdir / "broker",
            MQTT_PORT,
            autosave_interval_s=0,  # never killed here
        ).on_host(hosts.address("broker", lan), hosts.netns("broker"))
        database = hosts.address("database", db)
        on_database = (database, hosts.netns("database"))
        influx = InfluxServer(workdir / "influxd", INFLUX_HTTP_PORT, INFLUX_RPC_PORT)
        influx.on_host(*on_database)
        postgres = PostgresServer(workdir / "postgres", POSTGRES_PORT).on_host(*on_database)
        site: Site | None = None
        try:
            broker.start()
            influx.start()
            influx.create_database("rv")
            postgres.start()
            postgres.create_database("registry")
            site = Site(hosts, lan, db, broker, influx, postgres, postgres.url("registry"), workdir)
            yield site
        finally:
            if site is not None:
                for replica in site.replicas.values():
                    replica.stop()
            broker.stop()
            influx.stop()
            postgres.remove_data()


class Flow:
    """The fleet publishing each agent's next window every ``interval_s``, in a thread."""

    def __init__(self, site: Site, agents: list[SigningAgent], interval_s: float = 0.05) -> None:
        self.site, self.agents, self.interval_s = site, agents, interval_s
        self.last_seq = 1  # seq 1 is each agent's readiness probe
        self.error: BaseException | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="fleet-flow")
        self._publisher: Publisher | None = None
        self._context: AbstractContextManager[Publisher] = site.fleet_publisher("fleet-flow")

    def __enter__(self) -> Flow:
        self._publisher = self._context.__enter__()
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join(60)
        try:
            if self._publisher is not None:
                self._publisher.wait_acked(120)
        finally:
            self._context.__exit__(None, None, None)

    def _run(self) -> None:
        publisher = self._publisher
        assert publisher is not None
        try:
            tick = time.monotonic()
            while not self._stop.is_set():
                seq = self.last_seq + 1
                for agent in self.agents:
                    publisher.send(agent.topic, agent.payload(seq))
                self.last_seq = seq
                tick += self.interval_s
                self._stop.wait(max(0.0, tick - time.monotonic()))
        except BaseException as exc:  # reported by the test, not lost in the thread
            self.error = exc
