"""The local end-to-end run (README's main job), as far as the system is built today.

Starts a real mosquitto and a real influxd, the plant simulator (Modbus TCP and OPC UA
machines on a fast plant clock), the registry with the example implementation plan and the
agent's key, one real `retrofit-agent run` process and one real `retrofit-collector ingest`
process. Every number in the report travels the real path: device → agent (KPI windows,
outbox, Ed25519-signed batches) → MQTT → collector (checks, seq, quarantine) → InfluxDB
(windows and daily rollups) → the report, which reads the daily rollups back.

Not built yet, and said so in the report: the evidence engine (before/after verdicts with
their uncertainty, energy baseline, subsidy), the web app and the dashboards.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import datetime as dt
import html
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

import yaml
from rich.console import Console
from rich.progress import Progress

from agent import wire
from agent.keys import generate_key_pair, load_private_key
from collector.registry import Registry, load_plan
from collector.store import DailyRow, InfluxStore
from sim.agent_config import agent_devices
from sim.plant import load_plant
from stack import InfluxServer, MosquittoServer, free_port

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
PLANT = ROOT / "sim" / "examples" / "plant.yaml"
PLAN = ROOT / "deploy" / "examples" / "plan.yaml"
START = datetime.fromisoformat("2026-02-23T06:00:00+08:00")  # a Monday, first shift
PLATFORM, ENTERPRISE, AGENT = "plat-a", "ent-01", "gw-demo-01"
console = Console()


def agent_config(work: Path, ready: dict[str, str], speed: float, anchor: float) -> Path:
    """The agent's configuration: one device per simulated machine (sim.agent_config)."""
    host, port = ready["modbus"].rsplit(":", 1)
    devices = agent_devices(
        load_plant(PLANT), modbus=(host, int(port)), opcua_endpoint=ready["opcua"]
    )
    config = {
        "agent": {
            "id": AGENT,
            "platform": PLATFORM,
            "enterprise": ENTERPRISE,
            "key_path": str(work / "agent.key"),
            "outbox_path": str(work / "outbox.sqlite"),
            "window_s": 300,
        },
        "broker": {"host": "127.0.0.1", "port": int(ready["broker_port"])},
        "clock": {
            "start": START.isoformat(),
            "anchor": datetime.fromtimestamp(anchor, UTC).isoformat(),
            "speed": speed,
        },
        "devices": devices,
    }
    path = work / "agent.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True, sort_keys=False), "utf-8")
    return path


def start_simulator(
    work: Path, speed: float, anchor: float, broker_port: int
) -> tuple[subprocess.Popen[str], dict[str, str]]:
    argv = [
        str(BIN / "retrofit-sim"), "run", str(PLANT), "--modbus-port", "0",
        "--opcua-port", str(free_port()), "--seed", "1", "--start", START.isoformat(),
        "--speed", str(speed), "--anchor", str(anchor),
    ]  # fmt: skip
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True, cwd=work)
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line:
        raise SystemExit("demo: the plant simulator did not start (see above)")
    ready = json.loads(line)
    ready["broker_port"] = str(broker_port)
    return process, ready


def register(out: Path, devices: list[str]) -> Path:
    """The registry: the example implementation plan, and the demo agent's public key."""
    path = out / "registry.sqlite"
    with Registry(path) as registry:
        registry.load_plan(load_plan(PLAN), by="demo")
        if registry.agent_identity(AGENT) is None:
            public = wire.public_key_text(load_private_key(out / "agent.key").public_key())
            registry.add_agent(
                AGENT,
                platform=PLATFORM,
                enterprise=ENTERPRISE,
                public_key=public,
                devices=devices,
                by="demo",
            )
    return path


def collector_config(out: Path, broker: MosquittoServer, influx: InfluxServer) -> Path:
    metrics_port = free_port()
    config = {
        "registry": str(out / "registry.sqlite"),
        "broker": {"host": broker.host, "port": broker.port, "client_id": "collector-demo"},
        "influx": {"url": influx.url, "database": "rv"},
        "ingest": {"metrics_port": metrics_port},
    }
    path = out / "collector.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def ingest_metrics(config: Path) -> dict[str, float]:
    port = yaml.safe_load(config.read_text())["ingest"]["metrics_port"]
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as reply:
            text = reply.read().decode()
    except OSError:
        return {}
    values: dict[str, float] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            values[name] = float(value)
    return values


def kpis(rows: list[DailyRow]) -> dict[str, float | None]:
    """KPIs from sums of base quantities (docs/kpi.md), None where a denominator is zero."""

    def total(name: str) -> float:
        return float(sum(getattr(r, name) or 0 for r in rows))

    planned, run, count, good = (
        total(n) for n in ("planned_s", "run_s", "total_count", "good_count")
    )
    scheduled = total("scheduled_s")
    a = run / planned if planned else None
    p = total("ideal_count_s") / run if run else None
    q = good / count if count else None
    return {
        "availability": a,
        "performance": p,
        "quality": q,
        "oee": a * p * q if a is not None and p is not None and q is not None else None,
        "kwh_per_good": total("energy_kwh") / good if good else None,
        "coverage": 1 - total("scheduled_comm_loss_s") / scheduled if scheduled else None,
    }


def pct(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f} %"


def num(value: float | None, digits: int = 2) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


async def read_rollups(influx: InfluxServer, first: dt.date, last: dt.date) -> list[DailyRow]:
    async with InfluxStore(influx.url, "rv") as store:
        return await store.daily(ENTERPRISE, first, last)


def write_report(out: Path, rows: list[DailyRow], facts: dict[str, object]) -> Path:
    by_device: dict[str, list[DailyRow]] = defaultdict(list)
    for row in rows:
        by_device[row.device].append(row)
    table = []
    for device, device_rows in sorted(by_device.items()):
        k = kpis(device_rows)
        names = ("windows", "run_s", "down_s", "total_count", "good_count", "energy_kwh")
        sums = {n: sum(getattr(r, n) or 0 for r in device_rows) for n in names}
        table.append(
            f"<tr><td>{html.escape(device)}</td><td>{len(device_rows)}</td><td>{sums['windows']}</td>"
            f"<td>{sums['run_s'] / 3600:.2f}</td><td>{sums['down_s'] / 3600:.2f}</td>"
            f"<td>{sums['total_count']}</td><td>{sums['good_count']}</td>"
            f"<td>{sums['energy_kwh']:.1f}</td><td>{pct(k['availability'])}</td>"
            f"<td>{pct(k['performance'])}</td><td>{pct(k['quality'])}</td>"
            f"<td><b>{pct(k['oee'])}</b></td><td>{num(k['kwh_per_good'], 3)}</td>"
            f"<td>{pct(k['coverage'])}</td></tr>"
        )
    f = {key: html.escape(str(value)) for key, value in facts.items()}
    page = f"""<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8">
<title>retrofit-verify demo · 演示报告</title>
<style>
body {{ font-family: "Noto Sans CJK SC", "Noto Sans", sans-serif; margin: 2rem; color: #1a1a1a; }}
table {{ border-collapse: collapse; margin: 1rem 0; }}
th, td {{ border: 1px solid #999; padding: .3rem .6rem; text-align: right; }}
th {{ background: #e8eef5; }} td:first-child {{ text-align: left; }}
.note {{ background: #fff6d6; border: 1px solid #d9b400; padding: .6rem 1rem; max-width: 62rem; }}
</style></head><body>
<h1>Measured KPIs · 实测关键绩效指标 — {f["enterprise"]} (preview · 预览)</h1>
<p class="note"><b>Path.</b> Simulated equipment → agent <code>{f["agent"]}</code> (KPI windows,
outbox, Ed25519-signed batches) → mosquitto → <code>retrofit-collector ingest</code> (wire
checks, registry identity, signature, seq) → InfluxDB → this page, read from the daily rollups.
{f["plant_hours"]} h of plant time; {f["batches"]} batches acknowledged by the broker,
{f["written"]} windows written, {f["duplicates"]} duplicates, {f["quarantined"]} quarantined.<br>
<b>Not built yet:</b> the evidence engine (before/after verdicts with confidence intervals,
energy baseline, subsidy: issue #7), the web app (#8) and the dashboards (#9).<br>
<b>说明：</b>数据经真实 MQTT 代理与采集端写入 InfluxDB，本页读取日汇总；
整改前后判定与补贴测算尚未实现。</p>
<table><tr><th>device 设备</th><th>days 天</th><th>windows 窗口</th><th>run h 运行</th>
<th>down h 停机</th><th>parts 产量</th><th>good 合格</th><th>kWh 能耗</th><th>A 可用率</th>
<th>P 性能</th><th>Q 质量</th><th>OEE 设备综合效率</th><th>kWh/good 单耗</th>
<th>coverage 覆盖率</th></tr>
{"".join(table)}
</table>
<p>Generated {datetime.now(UTC):%Y-%m-%d %H:%M} UTC by <code>deploy/local/demo.sh</code>.</p>
</body></html>
"""
    report = out / "report.html"
    report.write_text(page, encoding="utf-8")
    (out / "daily.json").write_text(
        json.dumps([dataclasses.asdict(r) for r in rows], indent=1, default=str),
        encoding="utf-8",
    )
    return report


def stop_process(process: subprocess.Popen[str] | None) -> None:
    if process is not None and process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a short run (about 40 s)")
    parser.add_argument("--out", type=Path, default=ROOT / "out" / "demo")
    args = parser.parse_args()
    wall_s, speed = (20.0, 720.0) if args.quick else (90.0, 960.0)
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    # A fresh start: a previous run's broker would still hold its retained status messages,
    # signed with that run's key (the collector rightly quarantines them).
    for stale in ("mosquitto", "influxd"):
        shutil.rmtree(out / stale, ignore_errors=True)
    for stale in ("agent.key", "agent.key.pub", "outbox.sqlite", "outbox.sqlite-wal",
                  "registry.sqlite", "registry.sqlite-wal"):  # fmt: skip
        (out / stale).unlink(missing_ok=True)
    broker = MosquittoServer(out / "mosquitto")
    influx = InfluxServer(out / "influxd")
    simulator: subprocess.Popen[str] | None = None
    agent: subprocess.Popen[str] | None = None
    ingest: subprocess.Popen[str] | None = None
    logs = contextlib.ExitStack()
    try:
        console.rule("retrofit-verify local demo")
        broker.start()
        influx.start()
        console.print(f"mosquitto on {broker.url}, InfluxDB on {influx.url}")
        anchor = time.time() + 3.0  # plant time starts once everything is up
        simulator, ready = start_simulator(out, speed, anchor, broker.port)
        console.print(f"plant simulator: Modbus {ready['modbus']}, OPC UA {ready['opcua']}")
        generate_key_pair(out / "agent.key", force=True)
        config = agent_config(out, ready, speed, anchor)
        devices = [d["id"] for d in yaml.safe_load(config.read_text())["devices"]]
        register(out, devices)
        console.print(f"registry: plan {PLAN.name} loaded, agent {AGENT} registered")
        collector = collector_config(out, broker, influx)
        ingest = subprocess.Popen(
            [str(BIN / "retrofit-collector"), "ingest", "--config", str(collector)],
            stdout=subprocess.DEVNULL, stderr=logs.enter_context((out / "ingest.log").open("w")),
            text=True,
        )  # fmt: skip
        console.print("installer check (retrofit-agent check-config, online):")
        subprocess.run([str(BIN / "retrofit-agent"), "check-config", str(config)], check=False)
        agent = subprocess.Popen(
            [str(BIN / "retrofit-agent"), "run", str(config), "--health-file",
             str(out / "health.json")],
            stdout=subprocess.DEVNULL, stderr=logs.enter_context((out / "agent.log").open("w")),
            text=True,
        )  # fmt: skip
        with Progress(console=console) as progress:
            task = progress.add_task(f"plant running at {speed:g}x", total=wall_s)
            for _ in range(int(wall_s * 4)):
                time.sleep(0.25)
                progress.advance(task, 0.25)
        plant_end = START + dt.timedelta(seconds=(time.time() - anchor) * speed)
        stop_process(agent)
        metrics = wait_for_ingest(collector)
        wait_for_rollups(out / "registry.sqlite")
        first = START.date() - dt.timedelta(days=1)
        rows = asyncio.run(read_rollups(influx, first, plant_end.date() + dt.timedelta(days=1)))
        with Registry(out / "registry.sqlite") as registry:
            quarantined = len(registry.quarantine_list())
        facts = {
            "enterprise": ENTERPRISE,
            "agent": AGENT,
            "plant_hours": f"{wall_s * speed / 3600:.1f}",
            "batches": int(metrics.get('rv_ingest_received_total{kind="windows"}', 0)),
            "written": int(metrics.get("rv_ingest_written_records_total", 0)),
            "duplicates": int(metrics.get("rv_ingest_duplicates_total", 0)),
            "quarantined": quarantined,
        }
        report = write_report(out, rows, facts)
        console.rule("done")
        console.print(
            f"{facts['written']} windows through the collector into InfluxDB, "
            f"{len(rows)} device-days of rollups, {quarantined} quarantined"
        )
        console.print(f"report:  {report}")
        console.print(f"logs:    {out / 'agent.log'}, {out / 'ingest.log'}")
        console.print(
            "[yellow]not built yet:[/yellow] evidence engine (verdicts, subsidy: #7), "
            "web app (#8), dashboards (#9); the report shows measured KPIs from InfluxDB."
        )
        return 0 if rows and facts["written"] and not quarantined else 1
    except KeyboardInterrupt:
        console.print("interrupted: stopping everything the demo started")
        return 130
    finally:
        stop_process(agent)
        stop_process(ingest)
        stop_process(simulator)
        for server in (broker, influx):
            with contextlib.suppress(Exception):
                server.stop()
        logs.close()


def wait_for_ingest(config: Path, timeout_s: float = 30.0) -> dict[str, float]:
    """Until the collector has taken everything the agent sent (nothing in flight, stable)."""
    deadline = time.monotonic() + timeout_s
    last: dict[str, float] = {}
    while time.monotonic() < deadline:
        time.sleep(1.0)
        now = ingest_metrics(config)
        settled = now.get("rv_ingest_inflight_messages") == 0
        if settled and now.get("rv_ingest_written_records_total") == last.get(
            "rv_ingest_written_records_total"
        ):
            return now
        last = now
    return last


def wait_for_rollups(registry_path: Path, timeout_s: float = 30.0) -> None:
    """Until the collector has refreshed the daily rollups of every day it wrote to."""
    deadline = time.monotonic() + timeout_s
    with Registry(registry_path) as registry:
        while registry.dirty_days() and time.monotonic() < deadline:
            time.sleep(0.5)


if __name__ == "__main__":
    os.chdir(ROOT)
    sys.exit(main())
