"""Tests of agent/importing/: CSV exports to imported windows in a real outbox, and bad input.

Every test writes real files to a temp dir and imports them through the typer command (or
``import_csv``) into a real SQLite outbox; windows are then sealed, encoded and decoded with the
wire contract, as the publisher would. Bad-input cases are data in ``import_cases/``.
"""

from __future__ import annotations

import datetime as dt
import io
import shlex
import tracemalloc
from collections.abc import Sequence
from pathlib import Path

import pytest
import typer
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from rich.console import Console
from typer.testing import CliRunner

from agent.importing import import_csv, register
from agent.importing.command import EXIT_BAD_ROWS, EXIT_OK, EXIT_REFUSED
from agent.importing.mapping import build_mapping
from agent.importing.table import MAX_IMPORT_BYTES
from agent.outbox import Outbox
from contract import wire

CASES = Path(__file__).parent / "import_cases"
SHANGHAI = dt.timezone(dt.timedelta(hours=8))
KEY = Ed25519PrivateKey.generate()

CONFIG = """\
agent:
  id: line-1
  platform: plat-a
  enterprise: ent-1
  key_path: agent.key
  outbox_path: outbox.sqlite
broker:
  host: 127.0.0.1
devices:
  - id: press-1
    protocol: modbus_tcp
    host: 127.0.0.1
    ideal_cycle_s: 2.0
    calendar:
      timezone: Asia/Shanghai
      shifts:
        - name: day
          days: [mon, tue, wed, thu, fri, sat, sun]
          start: "08:00"
          end: "20:00"
          breaks:
            - { start: "12:00", end: "13:00" }
    tags:
      state:
        role: state
        register_type: holding
        address: 0
        state_map: {0: off, 1: running, 2: idle, 3: down}
      count:
        role: total_count
        register_type: holding
        address: 2
        width: 16
      rejects:
        role: reject_count
        register_type: holding
        address: 3
        width: 16
      energy:
        role: energy_kwh
        register_type: input
        address: 0
        data_type: float32
  - id: meter-1
    protocol: modbus_tcp
    host: 127.0.0.1
    tags:
      power:
        role: power_kw
        register_type: input
        address: 0
        data_type: float32
"""

SAMPLE_MAP = [
    "--map",
    "time=采集时间",
    "--map",
    "state=设备状态",
    "--map",
    "total_count=产量",
    "--map",
    "reject_count=废品数",
    "--map",
    "energy_kwh=电能表读数(kWh)",
]
INTERVAL_MAP = [
    "--shape",
    "intervals",
    "--map",
    "start=开始时间",
    "--map",
    "end=结束时间",
    "--map",
    "run_min=运行时间(分钟)",
    "--map",
    "down_min=停机时间(分钟)",
    "--map",
    "planned_min=计划时间(分钟)",
    "--map",
    "total_count=产量",
    "--map",
    "reject_count=不良品",
    "--map",
    "energy_kwh=用电量(kWh)",
]


# --- helpers ------------------------------------------------------------------------------


def write_config(folder: Path) -> Path:
    path = folder / "agent.yaml"
    path.write_text(CONFIG, encoding="utf-8")
    return path


def cli() -> typer.Typer:
    app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)

    @app.callback()
    def _root() -> None:
        """The agent's CLI stand-in: register() is the one line cli.py adds."""

    register(app)
    return app


def run_import(config: Path, csv_path: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(
        cli(), ["import", str(csv_path), "--config", str(config), "--device", "press-1", *args]
    )
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception  # a traceback is a bug: the test shows it
    return result.exit_code, result.output


def pending_windows(config: Path) -> list[wire.KpiWindow]:
    """Seal everything pending as the publisher does, and decode it as the collector does."""
    outbox = Outbox(config.parent / "outbox.sqlite")
    windows: list[wire.KpiWindow] = []

    def seal(seq: int, records: list[bytes]) -> bytes:
        return wire.seal_envelope_bytes(
            platform="plat-a",
            enterprise="ent-1",
            agent="line-1",
            seq=seq,
            sent=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
            records=records,
            key=KEY,
        )

    try:
        while (batch := outbox.seal_batch(wire.MAX_RECORDS, seal)) is not None:
            envelope = wire.decode_envelope(batch.envelope)
            wire.verify(envelope, KEY.public_key())
            windows.extend(envelope.records)
    finally:
        outbox.close()
    return sorted(windows, key=lambda window: window.start)


def write_history(path: Path, encoding: str) -> dict[str, float]:
    """A historian export (10-s samples, one hour) and its ground truth.

    State: running, down from 08:20 to 08:30, running; the 16-bit counter rolls over; the
    energy meter climbs steadily. Returns what the windows must add up to.
    """
    start = dt.datetime(2025, 6, 2, 8, 0, 0)
    lines = ["采集时间,设备状态,产量,废品数,电能表读数(kWh)"]
    count, rejects, meter = 65_400, 7, 1_000.0
    truth = {"run_s": 0.0, "down_s": 0.0, "total": 0, "rejects": 0, "kwh": 0.0}
    for index in range(361):  # 08:00:00 .. 09:00:00 inclusive
        moment = start + dt.timedelta(seconds=10 * index)
        down = dt.time(8, 20) <= moment.time() < dt.time(8, 30)
        lines.append(
            f"{moment:%Y-%m-%d %H:%M:%S},{3 if down else 1},{count % 65_536},{rejects},{meter:.3f}"
        )
        if index == 360:
            break
        truth["down_s" if down else "run_s"] += 10
        if not down:
            count += 4
            truth["total"] += 4
        if index % 50 == 0:
            rejects += 1
            truth["rejects"] += 1
        meter += 0.25
        truth["kwh"] += 0.25
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode(encoding))
    return truth


def write_report(path: Path) -> None:
    """An MES shift report: a day shift with planned time, a night shift without."""
    text = (
        "日期,班次,开始时间,结束时间,运行时间(分钟),停机时间(分钟),计划时间(分钟),产量,不良品,用电量(kWh)\n"
        "2025-06-02,白班,2025-06-02 08:00,2025-06-02 20:00,600,60,660,15000,120,850.5\n"
        "2025-06-02,夜班,2025-06-02 20:00,2025-06-03 08:00,500,90,,12000,200,700.25\n"
        "2025-06-03,白班,2025-06-03 08:00,2025-06-03 20:00,610,30,,15500,95,860\n"
    )
    path.write_bytes(("\ufeff" + text).encode("utf-8"))  # Excel's "CSV UTF-8": with a BOM


# --- samples ------------------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ["gb18030", "utf-8-sig"])
def test_historian_samples_become_imported_windows_that_sum_to_the_export(
    tmp_path: Path, encoding: str
) -> None:
    config = write_config(tmp_path)
    csv_path = tmp_path / "历史数据.csv"
    truth = write_history(csv_path, encoding)

    code, output = run_import(config, csv_path, *SAMPLE_MAP)

    assert code == EXIT_OK, output
    assert "added 61 windows" in output
    windows = pending_windows(config)
    assert len(windows) == 61  # 60 minutes, and the last row at 09:00:00 opens one more
    assert {window.provenance for window in windows} == {"imported"}
    assert {window.device for window in windows} == {"press-1"}
    assert sum(w.run_s or 0 for w in windows) == pytest.approx(truth["run_s"])
    assert sum(w.down_s or 0 for w in windows) == pytest.approx(truth["down_s"])
    assert sum(w.total_count or 0 for w in windows) == truth["total"]  # across the rollover
    assert sum(w.reject_count or 0 for w in windows) == truth["rejects"]
    assert sum(w.energy_kwh or 0 for w in windows) == pytest.approx(truth["kwh"])
    assert sum(w.quality.counter_resets for w in windows) == 0
    assert sum(w.quality.comm_loss_s for w in windows) == 0
    assert windows[0].start == dt.datetime(2025, 6, 2, 8, 0, tzinfo=SHANGHAI)
    assert all(w.ideal_cycle_s == 2.0 for w in windows)


def test_historian_gap_beyond_the_limit_is_comm_loss_not_running(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    csv_path = tmp_path / "gap.csv"
    rows = ["time;state;count"]
    rows += [f"2025/6/2 8:{minute:02d}:00;1;{minute * 10}" for minute in range(0, 10)]
    rows += [f"2025/6/2 8:{minute:02d}:00;1;{minute * 10}" for minute in range(40, 50)]
    csv_path.write_text("\n".join(rows) + "\n", encoding="utf-8")

    code, output = run_import(
        config,
        csv_path,
        *("--map", "time=time", "--map", "state=state", "--map", "total_count=count"),
        *("--max-gap-s", "120"),
    )

    assert code == EXIT_OK, output
    windows = pending_windows(config)
    assert sum(w.run_s or 0 for w in windows) == pytest.approx(18 * 60 + 0.001)
    assert sum(w.quality.comm_loss_s for w in windows) == pytest.approx(31 * 60)
    assert sum(w.total_count or 0 for w in windows) == 490  # counted once the device is back


def test_blank_state_cells_hold_the_state_before_them(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    csv_path = tmp_path / "on-change.csv"
    rows = ["时间,状态,产量", "2025-06-02 08:00:00,1,0", "2025-06-02 08:00:30,,10"]
    rows += ["2025-06-02 08:01:00,2,20", "2025-06-02 08:01:30,,20", "2025-06-02 08:02:00,1,20"]
    csv_path.write_text("\n".join(rows) + "\n", encoding="utf-8")

    code, output = run_import(
        config, csv_path, "--map", "time=时间", "--map", "state=状态", "--map", "total_count=产量"
    )

    assert code == EXIT_OK, output
    windows = pending_windows(config)
    assert sum(w.run_s or 0 for w in windows) == pytest.approx(60.001)  # + 1 ms of the last row
    assert sum(w.idle_s or 0 for w in windows) == pytest.approx(60)


# --- intervals ----------------------------------------------------------------------------


def test_mes_shift_report_rows_become_one_window_each(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    csv_path = tmp_path / "班次报表.csv"
    write_report(csv_path)

    code, output = run_import(config, csv_path, *INTERVAL_MAP)

    assert code == EXIT_OK, output
    windows = pending_windows(config)
    assert [w.duration_s for w in windows] == [43_200, 43_200, 43_200]
    assert {w.provenance for w in windows} == {"imported"}
    assert sum(w.run_s or 0 for w in windows) == (600 + 500 + 610) * 60
    assert sum(w.down_s or 0 for w in windows) == (60 + 90 + 30) * 60
    assert sum(w.total_count or 0 for w in windows) == 15_000 + 12_000 + 15_500
    assert sum(w.reject_count or 0 for w in windows) == 120 + 200 + 95
    assert sum(w.good_count or 0 for w in windows) == 42_500 - 415  # derived, as live
    assert sum(w.energy_kwh or 0 for w in windows) == pytest.approx(850.5 + 700.25 + 860)
    assert all(w.idle_s is None and w.off_s is None for w in windows)  # not reported: null
    day, night, day2 = windows
    assert day.planned_s == 660 * 60  # the report's planned time
    # No planned time in the report: the calendar's (08:00-20:00 less lunch), and the night
    # shift ran outside it, which counts as planned (overtime), as for measured windows.
    assert day2.scheduled_s == 11 * 3600 and day2.planned_s == 11 * 3600
    assert night.scheduled_s == 0 and night.planned_s == 500 * 60
    assert day.start == dt.datetime(2025, 6, 2, 8, 0, tzinfo=SHANGHAI)


def test_overlapping_report_rows_are_refused_naming_both(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    csv_path = tmp_path / "twice.csv"
    write_report(csv_path)
    with csv_path.open("a", encoding="utf-8") as stream:  # a shift pasted in again
        stream.write(
            "2025-06-02,白班,2025-06-02 08:00,2025-06-02 20:00,600,60,660,15000,120,850.5\n"
        )

    code, output = run_import(config, csv_path, *INTERVAL_MAP)

    assert code == EXIT_REFUSED
    assert "row 5 (2025-06-02 08:00:00 +0800 to 2025-06-02 20:00:00 +0800) overlaps row 2" in output
    assert not (tmp_path / "outbox.sqlite").exists()


def test_import_overlapping_windows_already_in_the_outbox_is_refused(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    csv_path = tmp_path / "班次报表.csv"
    write_report(csv_path)
    assert run_import(config, csv_path, *INTERVAL_MAP)[0] == EXIT_OK

    code, output = run_import(config, csv_path, *INTERVAL_MAP)  # the same file again

    assert code == EXIT_REFUSED
    assert (
        "device press-1 already has imported windows from 2025-06-02 08:00:00 +0800 to "
        "2025-06-03 20:00:00 +0800" in output
    )
    assert "nothing imported" in output
    assert len(pending_windows(config)) == 3


def test_baseline_before_the_agents_measured_windows_is_accepted(tmp_path: Path) -> None:
    # The usual order in a pilot: the agent goes live, then last year's baseline is imported.
    config = write_config(tmp_path)
    measured_start = dt.datetime(2025, 7, 1, tzinfo=dt.UTC)
    outbox = Outbox(tmp_path / "outbox.sqlite")
    digest = wire.config_digest(b"x")
    quality = wire.DataQuality(
        samples=1, missed_polls=0, bad_values=0, comm_loss_s=0.0, scheduled_comm_loss_s=0.0,
        counter_resets=0, meter_resets=0, clock_jumps=0,
    )  # fmt: skip
    outbox.add_windows(
        [
            wire.KpiWindow(
                device="press-1", start=measured_start,
                end=measured_start + dt.timedelta(minutes=1), provenance="measured",
                config_digest=digest, scheduled_s=60.0, planned_s=60.0, run_s=60.0,
                idle_s=0.0, down_s=0.0, off_s=0.0, planned_stop_s=0.0, total_count=3,
                good_count=3, reject_count=0, energy_kwh=None, ideal_cycle_s=None,
                quality=quality,
            )
        ]
    )  # fmt: skip
    resume_before = outbox.resume_points()
    outbox.close()
    csv_path = tmp_path / "班次报表.csv"
    write_report(csv_path)  # June 2025: before the measured window

    code, output = run_import(config, csv_path, *INTERVAL_MAP)

    assert code == EXIT_OK, output
    reopened = Outbox(tmp_path / "outbox.sqlite")
    # Importing old data does not move where the agent's next run resumes.
    assert reopened.resume_points() == resume_before
    assert [p for p, _, _ in reopened.covered("press-1")] == ["imported", "measured"]
    reopened.close()


def test_import_continuing_after_stored_windows_is_accepted(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    first, second = tmp_path / "june-2.csv", tmp_path / "june-3.csv"
    header = "开始时间,结束时间,运行时间(分钟),产量\n"
    first.write_text(header + "2025-06-02 08:00,2025-06-02 20:00,600,100\n", encoding="utf-8")
    second.write_text(header + "2025-06-03 08:00,2025-06-03 20:00,500,90\n", encoding="utf-8")
    args = ["--shape", "intervals", "--map", "start=开始时间", "--map", "end=结束时间"]
    args += ["--map", "run_min=运行时间(分钟)", "--map", "total_count=产量"]

    assert run_import(config, first, *args)[0] == EXIT_OK
    assert run_import(config, second, *args)[0] == EXIT_OK
    assert [w.total_count for w in pending_windows(config)] == [100, 90]


# --- bad rows -----------------------------------------------------------------------------


def _with_bad_rows(path: Path) -> None:
    lines = ["采集时间,设备状态,产量,废品数,电能表读数(kWh)"]
    for second in range(0, 300, 10):
        lines.append(f"2025-06-02 08:{second // 60:02d}:{second % 60:02d},1,{second},0,{second}")
    lines[4] = "2025-06-02 08:00:30,1,abc,0,30"  # row 5
    lines[9] = "2025-06-02 08:01:20,7,80,-1,80"  # row 10: unknown state and negative count
    lines[12] = "not a time,1,110,0,110"  # row 13
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_bad_rows_are_all_reported_with_row_and_column_and_nothing_is_imported(
    tmp_path: Path,
) -> None:
    config = write_config(tmp_path)
    csv_path = tmp_path / "bad.csv"
    _with_bad_rows(csv_path)

    code, output = run_import(config, csv_path, *SAMPLE_MAP)

    assert code == EXIT_BAD_ROWS
    reported = [line for line in output.splitlines() if line.startswith("row ")]
    assert reported == [
        "row 5, column 产量: got 'abc', expected an integer",
        "row 10, column 设备状态: got '7', expected one of the state codes 0, 1, 2, 3",
        "row 10, column 废品数: got '-1', expected an integer ≥ 0",
        "row 13, column 采集时间: got 'not a time', expected a date and time such as "
        "2026-01-05 08:00:00 (or give --time-format)",
    ]
    assert "3 of 30 rows have values that cannot be used; nothing imported" in output
    assert "Traceback" not in output
    assert not (tmp_path / "outbox.sqlite").exists()


def test_skip_bad_imports_the_other_rows_and_counts_the_skipped(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    csv_path = tmp_path / "bad.csv"
    _with_bad_rows(csv_path)

    code, output = run_import(config, csv_path, *SAMPLE_MAP, "--skip-bad")

    assert code == EXIT_OK, output
    assert "3 rows skipped (--skip-bad)" in output
    assert "row 5, column 产量: got 'abc', expected an integer" in output
    windows = pending_windows(config)
    assert sum(w.quality.samples for w in windows) == 27
    assert sum(w.total_count or 0 for w in windows) == 290  # first reading 0, last 290


# --- dry run ------------------------------------------------------------------------------


def test_dry_run_prints_the_summary_and_writes_nothing(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    csv_path = tmp_path / "班次报表.csv"
    write_report(csv_path)

    code, output = run_import(config, csv_path, *INTERVAL_MAP, "--dry-run")

    assert code == EXIT_OK, output
    assert not (tmp_path / "outbox.sqlite").exists()
    assert "dry run: nothing written" in output
    assert "42,500" in output  # total count
    assert "2,410.750 kWh" in output
    assert "2025-06-02 08:00:00 +0800" in output and "2025-06-03 20:00:00 +0800" in output


def test_dry_run_against_an_existing_outbox_leaves_it_unchanged(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    history = tmp_path / "history.csv"
    write_history(history, "utf-8")
    assert run_import(config, history, *SAMPLE_MAP)[0] == EXIT_OK
    outbox = Outbox(tmp_path / "outbox.sqlite")
    before = outbox.stats()
    outbox.close()
    report = tmp_path / "班次报表.csv"
    write_report(report)
    report.write_text(  # the shifts after the history
        "\n".join(report.read_text(encoding="utf-8-sig").splitlines()[::2]), encoding="utf-8"
    )

    code, output = run_import(config, report, *INTERVAL_MAP, "--dry-run")

    assert code == EXIT_OK, output
    assert "dry run: nothing written" in output
    outbox = Outbox(tmp_path / "outbox.sqlite")
    assert outbox.stats() == before
    outbox.close()


# --- the function the CLI calls, limits, mapping files ------------------------------------


def test_import_csv_returns_the_exit_code_and_prints_to_the_console_given(
    tmp_path: Path,
) -> None:
    config = write_config(tmp_path)
    csv_path = tmp_path / "history.csv"
    write_history(csv_path, "gb18030")
    mapping = build_mapping(None, SAMPLE_MAP[1::2], encoding="gb18030")
    buffer = io.StringIO()
    console = Console(file=buffer, width=120)

    code = import_csv(config, csv_path, "press-1", mapping, console, skip_bad=False, dry_run=True)

    assert code == EXIT_OK
    assert "gb18030, delimiter ',', shape samples" in buffer.getvalue()


def test_mapping_file_with_state_texts_and_a_where_filter(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    csv_path = tmp_path / "mes.csv"
    csv_path.write_text(
        "厂区生产记录\n"
        "\n"
        "设备编号\t时间\t状态\t产量\n"
        "CNC-01\t2025-06-02 08:00:00\t运行\t100\n"
        "CNC-02\t2025-06-02 08:00:00\t故障\t500\n"
        "CNC-01\t2025-06-02 08:00:30\t待机\t110\n"
        "CNC-01\t2025-06-02 08:01:00\t运行\t110\n",
        encoding="gb18030",
    )
    mapping_path = tmp_path / "mapping.yaml"
    mapping_path.write_text(
        "shape: samples\n"
        "header_row: 3\n"
        "timezone: Asia/Shanghai\n"
        "columns: {time: 时间, state: 状态, total_count: 产量}\n"
        "state_map: {运行: running, 待机: idle, 故障: down}\n"
        "where: {设备编号: CNC-01}\n",
        encoding="utf-8",
    )

    code, output = run_import(config, csv_path, "--mapping", str(mapping_path))

    assert code == EXIT_OK, output
    windows = pending_windows(config)
    assert sum(w.run_s or 0 for w in windows) == pytest.approx(30.001)
    assert sum(w.idle_s or 0 for w in windows) == pytest.approx(30)
    assert sum(w.total_count or 0 for w in windows) == 10


def test_a_huge_file_is_refused_before_it_is_read(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    csv_path = tmp_path / "huge.csv"
    with csv_path.open("wb") as stream:  # sparse: no disk space used
        stream.truncate(MAX_IMPORT_BYTES + 1)

    code, output = run_import(config, csv_path, *SAMPLE_MAP)

    assert code == 2
    assert f"more than the limit of {MAX_IMPORT_BYTES:,}" in output


@pytest.mark.parametrize("name", ["rot13", "zlib_codec", "bz2_codec", "hex_codec", "klingon"])
def test_an_encoding_that_is_not_a_text_encoding_is_refused_naming_the_option(
    tmp_path: Path, name: str
) -> None:
    # codecs.lookup() knows rot13 and the bytes-to-bytes codecs, but bytes.decode() cannot use
    # them: without the check the import ended in a LookupError traceback (#14).
    config = write_config(tmp_path)
    csv_path = tmp_path / "history.csv"
    write_history(csv_path, "utf-8")

    code, output = run_import(config, csv_path, *SAMPLE_MAP, "--encoding", name)

    assert code == 1, output
    assert output == (
        f"error: --encoding: got {name!r}, expected auto or a text encoding such as utf-8, "
        "utf-8-sig, gb18030, utf-16\n"
    )
    assert not (tmp_path / "outbox.sqlite").exists()


def write_wide_history(path: Path, rows: int, columns: int = 1000) -> None:
    """A historian export of ``rows`` 1-s samples, each ``columns`` wide (the mapped three first).

    Like the reported 66 MB file of 22k rows x 1,000 columns, scaled down: what matters is that
    every row holds far more cells than the import uses.
    """
    filler = ",20.5" * (columns - 3)  # not one character: CPython shares those, not these
    start = dt.datetime(2025, 6, 2, 8, 0, 0)
    lines = ["采集时间,设备状态,产量" + "".join(f",tag{n}" for n in range(3, columns))]
    for index in range(rows):
        moment = start + dt.timedelta(seconds=index)
        lines.append(f"{moment:%Y-%m-%d %H:%M:%S},1,{index % 60_000}{filler}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def import_peak_bytes(config: Path, csv_path: Path) -> int:
    """Peak Python heap (tracemalloc) of a dry-run import of ``csv_path``, which must succeed."""
    mapping = build_mapping(None, ["time=采集时间", "state=设备状态", "total_count=产量"])
    console = Console(file=io.StringIO(), width=120)
    tracemalloc.start()
    try:
        code = import_csv(config, csv_path, "press-1", mapping, console, False, dry_run=True)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert code == EXIT_OK, console.file.getvalue()  # type: ignore[attr-defined]  # StringIO
    return peak


def test_the_memory_of_an_import_does_not_grow_with_the_size_of_the_file(
    tmp_path: Path,
) -> None:
    # A 66 MB export of 22k rows x 1,000 columns took 1.95 GB: every cell of every row was held
    # at once (#14). Rows are now streamed, so 4 times the rows need about the same memory.
    config = write_config(tmp_path)
    small, large = tmp_path / "small.csv", tmp_path / "large.csv"
    write_wide_history(small, 500)
    write_wide_history(large, 2000)
    import_peak_bytes(config, small)  # the first run imports modules and fills caches

    peak_small = import_peak_bytes(config, small)
    peak_large = import_peak_bytes(config, large)

    assert large.stat().st_size > 3.9 * small.stat().st_size
    assert peak_large < 1.5 * peak_small, (peak_small, peak_large)


def test_an_import_larger_than_the_outbox_room_is_refused(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    config.write_text(
        CONFIG.replace(
            "outbox_path: outbox.sqlite",
            "outbox_path: outbox.sqlite\n  outbox_capacity_windows: 30",
        ),
        encoding="utf-8",
    )
    csv_path = tmp_path / "history.csv"
    write_history(csv_path, "utf-8")

    code, output = run_import(config, csv_path, *SAMPLE_MAP)

    assert code == EXIT_REFUSED
    assert "this import makes 61 windows, but the outbox has room for 30 more" in output


@pytest.mark.parametrize(("agent_zone", "offset_h"), [(None, 8), ("Europe/Berlin", 2)])
def test_times_without_a_zone_are_read_in_the_agents_time_zone(
    agent_zone: str | None, offset_h: int, tmp_path: Path
) -> None:
    # meter-1 has no calendar and the import gives no --tz: agent.timezone (default
    # Asia/Shanghai, the zone the day seals are cut in) says what the export's times mean.
    config = write_config(tmp_path)
    if agent_zone is not None:
        text = CONFIG.replace(
            "  outbox_path: outbox.sqlite\n",
            f"  outbox_path: outbox.sqlite\n  timezone: {agent_zone}\n",
        )
        config.write_text(text, encoding="utf-8")  # fmt: skip
    samples = tmp_path / "meter.csv"
    samples.write_text(
        "time,kw\n"
        + "".join(f"2025-06-02 08:{minute:02d}:00,5\n" for minute in range(60))
        + "2025-06-02 09:00:00,5\n",
        encoding="utf-8",
    )
    result = CliRunner().invoke(
        cli(), ["import", str(samples), "--config", str(config), "--device", "meter-1",
                "--map", "time=time", "--map", "power_kw=kw"],
    )  # fmt: skip
    assert result.exit_code == EXIT_OK, result.output
    windows = pending_windows(config)
    assert windows[0].start == dt.datetime(2025, 6, 2, 8 - offset_h, tzinfo=dt.UTC)


# --- bad input as data ----------------------------------------------------------------------


def _case_args(folder: Path) -> list[str]:
    return shlex.split((folder / "args").read_text(encoding="utf-8"))


@pytest.mark.parametrize("case", sorted(p.name for p in CASES.iterdir() if p.is_dir()))
def test_import_case(case: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each case folder's input.csv and args give exactly expected.err and expected.code."""
    folder = CASES / case
    config = write_config(tmp_path)
    monkeypatch.chdir(folder)
    result = CliRunner().invoke(
        cli(), ["import", "input.csv", "--config", str(config), *_case_args(folder)]
    )
    output = result.output.replace(str(config), "agent.yaml")
    assert output == (folder / "expected.err").read_text(encoding="utf-8")
    assert result.exit_code == int((folder / "expected.code").read_text())
    assert not (tmp_path / "outbox.sqlite").exists()


def test_every_case_has_its_files() -> None:
    folders: Sequence[Path] = [p for p in CASES.iterdir() if p.is_dir()]
    assert len(folders) >= 15
    for folder in folders:
        assert {"args", "expected.err", "expected.code"} <= {p.name for p in folder.iterdir()}


# --- the shipped examples -----------------------------------------------------------------

EXAMPLES = Path(__file__).parents[2] / "deploy" / "agent" / "examples" / "import"


@pytest.mark.parametrize("name", ["historian-samples", "mes-shifts"])
def test_shipped_examples_import(name: str, tmp_path: Path) -> None:
    config = write_config(tmp_path)

    code, output = run_import(
        config, EXAMPLES / f"{name}.csv", "--mapping", str(EXAMPLES / f"{name}.yaml")
    )

    assert code == EXIT_OK, output
    windows = pending_windows(config)
    assert windows and {window.provenance for window in windows} == {"imported"}
