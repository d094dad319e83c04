"""stack.influxd: line protocol in, InfluxQL out, data across restarts and crashes, start errors."""

from __future__ import annotations

import socket

import pytest

from stack import LOOPBACK_HOST, InfluxHTTPError, InfluxServer, ServerStartError
from tests.conftest import InfluxFactory

pytestmark = pytest.mark.timeout(60)

# 2026-11-25T08:00:00Z and the next minute, in nanoseconds.
_T0_NS = 1_795_593_600_000_000_000
_MINUTE_NS = 60_000_000_000


def test_line_protocol_round_trip_keeps_values_and_timestamps(influxd: InfluxServer) -> None:
    influxd.create_database("rv")
    influxd.write_lines(
        "rv",
        [
            f"window,agent=a1,device=press-1 run_s=55.5,total_count=12i {_T0_NS}",
            f"window,agent=a1,device=press-1 run_s=60,total_count=14i {_T0_NS + _MINUTE_NS}",
        ],
    )
    rows = influxd.query_rows("rv", "SELECT run_s, total_count, device FROM window")
    assert rows == [
        {"time": _T0_NS, "run_s": 55.5, "total_count": 12, "device": "press-1"},
        {"time": _T0_NS + _MINUTE_NS, "run_s": 60, "total_count": 14, "device": "press-1"},
    ]


def test_write_precision_and_query_epoch_are_honoured(influxd: InfluxServer) -> None:
    influxd.create_database("rv")
    influxd.write_lines("rv", [f"m v=1 {_T0_NS // 1_000_000_000}"], precision="s")
    assert influxd.query_rows("rv", "SELECT v FROM m", epoch="ms") == [
        {"time": _T0_NS // 1_000_000, "v": 1}
    ]
    assert influxd.query_rows("rv", "SELECT v FROM m", epoch=None) == [
        {"time": "2026-11-25T08:00:00Z", "v": 1}
    ]


def test_rewriting_a_point_overwrites_it(influxd: InfluxServer) -> None:
    # The collector relies on this: a re-delivered window lands on the same series and time.
    influxd.create_database("rv")
    influxd.write_lines("rv", [f"window,agent=a1 run_s=1 {_T0_NS}"])
    influxd.write_lines("rv", [f"window,agent=a1 run_s=2 {_T0_NS}"])
    assert influxd.query_rows("rv", "SELECT run_s FROM window") == [{"time": _T0_NS, "run_s": 2}]


def test_data_survives_restart_and_sigkill(influxd: InfluxServer) -> None:
    influxd.create_database("rv")
    influxd.write_lines("rv", [f"m v=1 {_T0_NS}"])
    first_pid = influxd.pid
    influxd.restart()
    assert influxd.pid != first_pid
    influxd.write_lines("rv", [f"m v=2 {_T0_NS + _MINUTE_NS}"])
    influxd.kill()  # acknowledged writes are in the fsynced WAL
    influxd.start()
    assert influxd.query_rows("rv", "SELECT v FROM m") == [
        {"time": _T0_NS, "v": 1},
        {"time": _T0_NS + _MINUTE_NS, "v": 2},
    ]


def test_errors_carry_status_and_reason(influxd: InfluxServer) -> None:
    influxd.create_database("rv")
    influxd.write_lines("rv", [f"m v=1 {_T0_NS}"])
    with pytest.raises(InfluxHTTPError) as bad_query:
        influxd.query("rv", "SELECT FROM")
    assert "error parsing query" in str(bad_query.value)
    with pytest.raises(InfluxHTTPError) as conflict:
        influxd.write_lines("rv", [f'm v="text" {_T0_NS + 1}'])  # v is a float field
    assert conflict.value.status_code == 400
    assert "field type conflict" in conflict.value.body


def test_config_keeps_everything_under_workdir(influxd: InfluxServer) -> None:
    config = influxd.config_path.read_text()
    assert f'bind-address = "127.0.0.1:{influxd.http_port}"' in config
    assert f'bind-address = "127.0.0.1:{influxd.rpc_port}"' in config
    assert influxd.url == f"http://127.0.0.1:{influxd.http_port}"
    for directory in (influxd.meta_dir, influxd.data_dir, influxd.wal_dir):
        assert directory.is_relative_to(influxd.workdir)
        assert directory.is_dir()


def test_two_servers_run_side_by_side(influxd_factory: InfluxFactory) -> None:
    first, second = influxd_factory(), influxd_factory()
    assert {first.http_port, first.rpc_port}.isdisjoint({second.http_port, second.rpc_port})
    first.create_database("only_here")
    assert {"name": "only_here"} in first.query_rows("", "SHOW DATABASES")
    assert {"name": "only_here"} not in second.query_rows("", "SHOW DATABASES")


def test_server_dying_at_start_reports_exit_code_and_log(influxd_factory: InfluxFactory) -> None:
    with socket.socket() as squatter:
        squatter.bind((LOOPBACK_HOST, 0))
        squatter.listen()
        with pytest.raises(ServerStartError) as caught:
            influxd_factory(http_port=squatter.getsockname()[1])
    error = caught.value
    assert error.exit_code not in (None, 0)
    assert error.address_in_use
    assert "address already in use" in str(error)
