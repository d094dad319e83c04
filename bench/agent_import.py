"""Peak memory of ``retrofit-agent import`` on a wide historian export, against a small one.

The file is the shape issue #14 reported: 22,000 rows x 1,000 columns, 66 MB (cells of two
digits, three mapped columns: time, state, counter), just under the 64 MiB import limit. The
small file has a quarter of the rows. Each import is the real command line in a child process
(``retrofit-agent import FILE --dry-run``, reading and checking everything, writing nothing),
and its peak RSS is the kernel's ``ru_maxrss`` of that child (``os.wait4``).

The ratio is peak(large) / peak(small): memory that does not grow with the file's size gives
about 1.0; holding every cell (as before the fix) gives about 4. ``--before REF`` measures the
same two imports with the agent package of git commit REF too (extracted to a temp dir and put
first on ``PYTHONPATH``), for a before/after figure on the same machine in the same run.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import common

ROWS = 22_000
COLUMNS = 1000
GOAL_RATIO = 1.5

CONFIG = """\
agent:
  id: gw-bench
  platform: plat-bench
  enterprise: ent-bench
  key_path: agent.key
  outbox_path: outbox.sqlite
broker:
  host: 127.0.0.1
devices:
  - id: press-1
    protocol: modbus_tcp
    host: 127.0.0.1
    calendar:
      timezone: Asia/Shanghai
      shifts:
        - {name: all, days: [mon, tue, wed, thu, fri, sat, sun], start: "00:00", end: "00:00"}
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
        data_type: uint32
        width: 32
"""
MAPPING = ["--map", "time=time", "--map", "state=state", "--map", "total_count=count"]


def write_export(path: Path, rows: int) -> int:
    """A 1-s historian export of ``rows`` rows x COLUMNS columns; returns its size in bytes."""
    start = dt.datetime(2025, 6, 2, 0, 0, 0)
    # Two-digit cells: CPython shares one-character strings, so "0" would hide the cost.
    filler = "".join(f",{10 + n % 90}" for n in range(3, COLUMNS))
    with path.open("w", encoding="utf-8", newline="") as stream:
        stream.write("time,state,count" + "".join(f",tag{n}" for n in range(3, COLUMNS)) + "\n")
        for index in range(rows):
            moment = start + dt.timedelta(seconds=index)
            stream.write(f"{moment:%Y-%m-%d %H:%M:%S},1,{index}{filler}\n")
    return path.stat().st_size


def peak_rss_mb(csv_path: Path, config: Path, pythonpath: Path | None) -> float:
    """Peak RSS (MB) of one dry-run import of ``csv_path`` in a child process."""
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    if pythonpath is None:
        argv = common.script("retrofit-agent")
    else:
        env["PYTHONPATH"] = str(pythonpath)
        argv = [sys.executable, "-c", "import sys; from agent.entry import main; sys.exit(main())"]
    argv += ["import", str(csv_path), "--config", str(config), "--device", "press-1"]
    process = subprocess.Popen(
        [*argv, *MAPPING, "--tz", "Asia/Shanghai", "--dry-run"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=env,
        cwd=csv_path.parent,  # not the repository: "-c" puts the working directory first
    )
    output = process.stdout.read() if process.stdout else b""
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise SystemExit(f"import failed ({process.returncode}):\n{output.decode()[-2000:]}")
    return usage.ru_maxrss / 1024  # kB on Linux


def extract(ref: str, into: Path) -> Path:
    """The tree of git commit ``ref`` in ``into``, for PYTHONPATH."""
    archive = subprocess.run(
        ["git", "-C", str(common.REPO_ROOT), "archive", ref, "agent"],
        check=True,
        capture_output=True,
    ).stdout
    into.mkdir(parents=True, exist_ok=True)
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into


def main() -> None:
    """Run the benchmark and print its result line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smoke figure in under 60 s")
    parser.add_argument("--before", metavar="REF", help="also measure git commit REF's agent")
    args = parser.parse_args()
    rows = ROWS // 4 if args.quick else ROWS
    print(f"agent_import: {common.machine_summary()}")
    with tempfile.TemporaryDirectory(prefix="bench-import-") as name:
        workdir = Path(name)
        config = workdir / "agent.yaml"
        config.write_text(CONFIG, encoding="utf-8")
        large, small = workdir / "large.csv", workdir / "small.csv"
        large_bytes, small_bytes = write_export(large, rows), write_export(small, rows // 4)
        print(
            f"exports: {rows:,} rows x {COLUMNS:,} columns ({large_bytes / 1e6:.1f} MB) and "
            f"{rows // 4:,} rows ({small_bytes / 1e6:.1f} MB); dry-run import, peak RSS"
        )
        figures = {"ours": (peak_rss_mb(small, config, None), peak_rss_mb(large, config, None))}
        if args.before:
            tree = extract(args.before, workdir / "before")
            figures["before"] = (
                peak_rss_mb(small, config, tree),
                peak_rss_mb(large, config, tree),
            )
    for label, (small_mb, large_mb) in figures.items():
        print(
            f"{label}: small {small_mb:.1f} MB, large {large_mb:.1f} MB, "
            f"ratio {large_mb / small_mb:.2f}"
        )
    small_mb, large_mb = figures["ours"]
    extra = {"large_mb": f"{large_mb:.1f}", "small_mb": f"{small_mb:.1f}"}
    if "before" in figures:
        extra["before_large_mb"] = f"{figures['before'][1]:.1f}"
        extra["before_small_mb"] = f"{figures['before'][0]:.1f}"
    print(
        common.result_line(
            "agent_import",
            large_mb / small_mb,
            f"{large_mb:.1f}MB",
            f"{small_mb:.1f}MB",
            f"<={GOAL_RATIO}",
            **extra,
        )
    )


if __name__ == "__main__":
    main()
