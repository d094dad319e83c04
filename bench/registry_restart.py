"""What a PostgreSQL restart costs the registry's calls, and what the pool's check costs each call.

collector/registry/postgres/pooled.py checks a pooled connection as it leaves the pool so that
a restart fails no call (docs/operations.md, "The registry on PostgreSQL"). This measures, on a
child ``postgres`` on a free loopback port (stack.PostgresServer), in this process:

- per call, best of ``--repeats`` runs of ``--calls`` each: a lookup (``agents.identity``, one
  autocommit SELECT: the ingest's per-agent check) and a read (``quarantine.counts``, a
  read-only transaction: what a web page does);
- a restart: the pool made to hold ``--connections`` connections, a fast shutdown and start on
  the same port and data directory, then ``--after`` seq writes (the ingest's one write per
  batch): how many failed and how long they took together.

ratio = writes after the restart that succeeded / writes made (goal 1).
"""

from __future__ import annotations

import argparse
import hashlib
import tempfile
import time
import timeit
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path

from common import load_average, machine_summary, result_line

from collector.errors import RegistryUnavailable
from collector.registry.postgres import DEFAULT_POOL_SIZE, PostgresDatabase
from collector.registry.sql import repositories
from stack import PostgresServer


def _per_call_us(call: Callable[[], object], calls: int, repeats: int) -> float:
    """Microseconds a call takes, best of ``repeats`` runs (the least disturbed by the machine)."""
    return min(timeit.repeat(call, number=calls, repeat=repeats)) / calls * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--connections", type=int, default=DEFAULT_POOL_SIZE)
    parser.add_argument("--after", type=int, default=DEFAULT_POOL_SIZE + 2)
    args = parser.parse_args()
    print(f"registry_restart: {machine_summary()}; load {load_average()}")
    with PostgresServer(Path(tempfile.mkdtemp(prefix="rv-bench-"))) as server:
        server.create_database("registry")
        database = PostgresDatabase(server.url("registry"), lock_timeout_s=10.0)
        try:
            repos = repositories(database)
            lookup_us = _per_call_us(
                lambda: repos.agents.identity("gw-a"), args.calls, args.repeats
            )
            read_us = _per_call_us(repos.quarantine.counts, args.calls, args.repeats)
            print(f"per call: lookup {lookup_us:.0f} us, read {read_us:.0f} us")
            with ExitStack() as held:  # the pool keeps them, idle, afterwards
                for _ in range(args.connections):
                    held.enter_context(database.read())
            server.restart()
            failed, started = 0, time.perf_counter()
            for seq in range(1, args.after + 1):
                try:
                    repos.seqs.record([("gw-a", seq, hashlib.sha256(b"%d" % seq).hexdigest())])
                except RegistryUnavailable:
                    failed += 1
            after_s = time.perf_counter() - started
        finally:
            database.close()
        server.remove_data()
    print(
        f"after a restart with {args.connections} pooled connections: "
        f"{args.after} writes, {failed} failed, {after_s:.3f} s together"
    )
    print(
        result_line(
            "registry_restart",
            (args.after - failed) / args.after,
            ours=f"{args.after - failed}/{args.after}",
            limit="-",
            goal="1",
            lookup_us=f"{lookup_us:.0f}",
            read_us=f"{read_us:.0f}",
        )
    )


if __name__ == "__main__":
    main()
