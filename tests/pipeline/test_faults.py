"""§4 A on the pipeline: the seals after an agent SIGKILLed across midnight, the broker down
across another, and an MES import into a sealed day (tests/pipeline/harness.py plays them).

Each device's chain in the registry is whole (indexes 1..n, each ``prev`` the seal before);
every whole day is sealed once, never short (its measured part from midnight to midnight), and
checked equal to what InfluxDB holds by the ingest's full check (the Merkle root rebuilt from
the stored windows); the imported day has a version 2 that supersedes version 1 and adds the
imported part beside the unchanged measured one. That the honest bundle of all this verifies
is tests/pipeline/test_honest.py's first test.
"""

from __future__ import annotations

import datetime as dt
import itertools

import pytest

from collector.registry import DaySealEntry
from contract import days
from tests.pipeline.harness import (
    BASELINE_IMPORT,
    BROKER_DOWN,
    IMPORTED,
    KILLED,
    WHOLE_DAYS,
    ZONE_NAME,
    Pipeline,
)

pytestmark = pytest.mark.timeout(600)

ZONE = days.zone(ZONE_NAME)


def _assert_chain_whole(chain: list[DaySealEntry]) -> None:
    assert [s.chain_index for s in chain] == list(range(1, len(chain) + 1))
    assert chain[0].prev_sha256 is None
    for before, after in itertools.pairwise(chain):
        assert after.prev_sha256 == before.seal_sha256


def _latest(chain: list[DaySealEntry], day: dt.date) -> DaySealEntry:
    return max((s for s in chain if s.day == day), key=lambda s: s.version)


def test_every_chain_is_whole_and_every_whole_day_sealed_once_and_not_short(
    pipeline: Pipeline,
) -> None:
    for enterprise in pipeline.enterprises:
        checks = {(c.device, c.day, c.provenance): c for c in pipeline.checks[enterprise.id]}
        for device in enterprise.machine_ids:
            chain = pipeline.seal_chain(enterprise.agent_id, device)
            _assert_chain_whole(chain)
            for day in WHOLE_DAYS:
                [seal] = [s for s in chain if s.day == day]  # once: never sealed short, again
                assert (seal.version, seal.tz) == (1, ZONE_NAME)
                [part] = seal.message().parts
                start, end = days.day_bounds(day, ZONE)
                assert (part.first_start, part.last_end) == (start, end), f"{device} {day}"
                check = checks[(device, day, "measured")]
                assert check.outcome == "sealed_equal" and check.root_checked, check
                assert check.seal_sha256 == seal.seal_sha256


def test_the_killed_agent_ran_twice_and_its_days_across_the_kill_are_sealed_equal(
    pipeline: Pipeline,
) -> None:
    enterprise, killed_at, _ = KILLED
    agent = pipeline.agents[enterprise]
    assert agent.runs == 2 and "=== run 2" in agent.log()
    before, after = killed_at.date(), killed_at.date() + dt.timedelta(days=1)
    assert {before, after} <= set(WHOLE_DAYS)  # the previous test checked both, every device
    checks = pipeline.checks[enterprise]
    assert {(c.day, c.outcome) for c in checks if c.day in (before, after)} == {
        (before, "sealed_equal"),
        (after, "sealed_equal"),
    }


def test_the_collector_reconnected_after_the_broker_came_back(pipeline: Pipeline) -> None:
    # The days across the outage are whole and equal (the first test); here, that there was
    # one: the ingest connected twice, and the agents logged the lost broker.
    down_at, _ = BROKER_DOWN
    assert down_at.date() in WHOLE_DAYS
    assert (pipeline.folder / "ingest.log").read_text().count("connected to") >= 2
    for agent in pipeline.agents.values():
        assert "connected to broker" in agent.log()
        assert agent.log().count("connected to broker") >= 2, agent.log()[-3000:]


def test_the_import_into_a_sealed_day_gave_it_a_version_2(pipeline: Pipeline) -> None:
    enterprise, device, day = IMPORTED
    agent = next(e.agent_id for e in pipeline.enterprises if e.id == enterprise)
    chain = pipeline.seal_chain(agent, device)
    first, second = sorted((s for s in chain if s.day == day), key=lambda s: s.version)
    assert (first.version, second.version) == (1, 2)
    assert second.supersedes_sha256 == first.seal_sha256
    [measured_v1] = first.message().parts
    imported, measured_v2 = second.message().parts
    assert measured_v2 == measured_v1  # the measured part, its Merkle root too, unchanged
    hours = pipeline.imported_hours
    assert imported.provenance == "imported" and imported.windows == hours
    assert imported.first_start == days.day_bounds(day, ZONE)[0]
    assert imported.last_end <= measured_v1.first_start
    assert imported.sums.total_count == 100 * hours and imported.sums.run_s == 3000.0 * hours
    checks = {c.provenance: c for c in pipeline.checks[enterprise] if c.device == device
              and c.day == day}  # fmt: skip
    assert {p: c.outcome for p, c in checks.items()} == {
        "imported": "sealed_equal",
        "measured": "sealed_equal",
    }
    assert {c.seal_sha256 for c in checks.values()} == {second.seal_sha256}


def test_the_baseline_days_from_the_historian_are_sealed_as_imported_parts(
    pipeline: Pipeline,
) -> None:
    enterprise, device, baseline_days = BASELINE_IMPORT
    agent = next(e.agent_id for e in pipeline.enterprises if e.id == enterprise)
    chain = pipeline.seal_chain(agent, device)
    checks = {(c.day, c.provenance): c for c in pipeline.checks[enterprise] if c.device == device}
    for day in baseline_days:
        [seal] = [s for s in chain if s.day == day]
        [part] = seal.message().parts
        assert (seal.version, part.provenance, part.windows) == (1, "imported", 24)
        assert (part.first_start, part.last_end) == days.day_bounds(day, ZONE)
        assert part.sums.total_count == 2400 and part.sums.reject_count == 48
        check = checks[(day, "imported")]
        assert check.outcome == "sealed_equal" and check.seal_sha256 == seal.seal_sha256
