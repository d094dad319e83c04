"""tests/conftest.py fixtures: servers restart mid-test, and none outlives its test.

The inner session runs in this process (pytester), so the servers are our own children and
only the fixtures' teardown can stop them: the parent-death signal cannot hide a leak here.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytestmark = pytest.mark.timeout(120)

_CONFTEST = Path(__file__).resolve().parents[1] / "conftest.py"

_INNER_TESTS = """
import json
from pathlib import Path

PIDS = Path({pids_path!r})


def record(*servers):
    with PIDS.open("a") as out:
        for server in servers:
            out.write(json.dumps([server.pid, start_ticks(server.pid)]) + "\\n")


def start_ticks(pid):
    return Path(f"/proc/{{pid}}/stat").read_text().rsplit(")", 1)[1].split()[19]


def test_passes(mosquitto, influxd):
    record(mosquitto, influxd)


def test_fails(mosquitto_factory, influxd_factory):
    record(mosquitto_factory(), mosquitto_factory(), influxd_factory())
    assert False, "deliberate failure: teardown must still stop the servers"


def test_restarts_mid_test(mosquitto, influxd):
    record(mosquitto, influxd)
    mosquitto.kill()
    mosquitto.start()
    influxd.restart()
    record(mosquitto, influxd)
"""


def _alive(pid: int, start_ticks: str) -> bool:
    """True if the process `pid` started at `start_ticks` still exists (even as a zombie)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[19] == start_ticks  # else the pid was reused


def test_no_server_process_outlives_fixture_teardown(pytester: pytest.Pytester) -> None:
    pids_path = pytester.path / "pids.jsonl"
    pytester.makeconftest(_CONFTEST.read_text())
    pytester.makepyfile(test_inner=_INNER_TESTS.format(pids_path=str(pids_path)))

    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")

    recorded = [json.loads(line) for line in pids_path.read_text().splitlines()]
    leftovers = [pid for pid, ticks in recorded if _alive(pid, ticks)]
    assert leftovers == []
    assert len(recorded) == 9
    assert len({pid for pid, _ in recorded}) == 9  # restart() and kill()+start() gave new pids
    result.assert_outcomes(passed=2, failed=1)
