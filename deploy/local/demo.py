"""The local end-to-end run (README's main job), as far as the system is built today.

Starts a real mosquitto, the plant simulator (Modbus TCP and OPC UA machines on a fast plant
clock), one real `retrofit-agent run` process with its own key, and a window sink on the
collectors' shared subscription that verifies every signed batch. It ends by writing a report
computed from the verified windows and printing where it is.

Not built yet, and said so in the report: the collector ingest, InfluxDB storage and the
evidence engine (before/after verdicts, subsidy). Until they land, the report shows the base
quantities the agent measured and KPIs computed from their sums, nothing more.
"""

from __future__ import annotations

import argparse
import contextlib
import html
import json
import os
import queue
import signal
import subprocess
import sys
import time
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

import paho.mqtt.client as mqtt
import yaml
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from rich.console import Console
from rich.progress import Progress

from agent import wire
from agent.keys import generate_key_pair, load_private_key
from sim.agent_config import agent_devices
from sim.plant import load_plant
from stack import MosquittoServer, free_port

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
PLANT = ROOT / "sim" / "examples" / "plant.yaml"
START = datetime.fromisoformat("2026-02-23T06:00:00+08:00")  # a Monday, first shift
console = Console()


def agent_config(work: Path, ready: dict[str, str], speed: float, anchor: float) -> Path:
    """The agent's configuration: one device per simulated machine (sim.agent_config)."""
    host, port = ready["modbus"].rsplit(":", 1)
    devices = agent_devices(
        load_plant(PLANT), modbus=(host, int(port)), opcua_endpoint=ready["opcua"]
    )
    config = {
        "agent": {
            "id": "gw-demo-01",
            "platform": "plat-demo",
            "enterprise": "ent-demo-01",
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


class WindowSink:
    """Where the collector will stand: a persistent session on the shared subscription."""

    def __init__(self, broker: MosquittoServer) -> None:
        self.received: queue.Queue[bytes] = queue.Queue()
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id="demo-sink", protocol=mqtt.MQTTv5
        )
        self.client.on_connect = lambda c, *_: c.subscribe(
            wire.shared_filter("collectors", "windows"), qos=1
        )
        self.client.on_message = lambda _c, _u, m: self.received.put(bytes(m.payload))
        properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        properties.SessionExpiryInterval = 3600
        self.client.connect(broker.host, broker.port, clean_start=False, properties=properties)
        self.client.loop_start()

    def envelopes(self, key_path: Path) -> tuple[list[wire.Envelope], int]:
        public = load_private_key(key_path).public_key()
        good, refused = [], 0
        while not self.received.empty():
            try:
                envelope = wire.decode_envelope(self.received.get_nowait())
                wire.verify(envelope, public)
                good.append(envelope)
            except wire.WireError:
                refused += 1
        return good, refused

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


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


def kpis(windows: list[wire.KpiWindow]) -> dict[str, float | None]:
    """KPIs from sums of base quantities (docs/kpi.md), None where a denominator is zero."""

    def total(name: str) -> float:
        return float(sum(getattr(w, name) or 0 for w in windows))

    planned, run, count = total("planned_s"), total("run_s"), total("total_count")
    good = total("good_count")
    ideal = sum((w.ideal_cycle_s or 0) * (w.total_count or 0) for w in windows)
    scheduled = total("scheduled_s")
    lost = sum(w.quality.scheduled_comm_loss_s for w in windows)
    a = run / planned if planned else None
    p = ideal / run if run else None
    q = good / count if count else None
    return {
        "availability": a,
        "performance": p,
        "quality": q,
        "oee": a * p * q if a is not None and p is not None and q is not None else None,
        "good_per_planned_h": good / (planned / 3600) if planned else None,
        "kwh_per_good": total("energy_kwh") / good if good else None,
        "coverage": 1 - lost / scheduled if scheduled else None,
    }


def pct(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f} %"


def num(value: float | None, digits: int = 2) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def write_report(out: Path, envelopes: list[wire.Envelope], refused: int, plant_h: float) -> Path:
    by_device: dict[str, list[wire.KpiWindow]] = defaultdict(list)
    for envelope in envelopes:
        for record in envelope.records:
            by_device[record.device].append(record)
    rows = []
    for device, windows in sorted(by_device.items()):
        k = kpis(windows)
        names = ("run_s", "down_s", "total_count", "good_count", "energy_kwh")
        totals = {n: sum(getattr(w, n) or 0 for w in windows) for n in names}
        rows.append(
            f"<tr><td>{html.escape(device)}</td><td>{len(windows)}</td>"
            f"<td>{totals['run_s'] / 3600:.2f}</td><td>{totals['down_s'] / 3600:.2f}</td>"
            f"<td>{totals['total_count']}</td><td>{totals['good_count']}</td>"
            f"<td>{totals['energy_kwh']:.1f}</td><td>{pct(k['availability'])}</td>"
            f"<td>{pct(k['performance'])}</td><td>{pct(k['quality'])}</td>"
            f"<td><b>{pct(k['oee'])}</b></td><td>{num(k['kwh_per_good'], 3)}</td>"
            f"<td>{pct(k['coverage'])}</td></tr>"
        )
    seqs = sorted({e.seq for e in envelopes})
    page = f"""<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8">
<title>retrofit-verify demo · 演示报告</title>
<style>
body {{ font-family: "Noto Sans CJK SC", "Noto Sans", sans-serif; margin: 2rem; color: #1a1a1a; }}
table {{ border-collapse: collapse; margin: 1rem 0; }}
th, td {{ border: 1px solid #999; padding: .3rem .6rem; text-align: right; }}
th {{ background: #e8eef5; }} td:first-child {{ text-align: left; }}
.note {{ background: #fff6d6; border: 1px solid #d9b400; padding: .6rem 1rem; max-width: 60rem; }}
</style></head><body>
<h1>Measured KPIs · 实测关键绩效指标 (preview · 预览)</h1>
<p class="note"><b>What this is.</b> {len(envelopes)} signed batches (seq {seqs[0] if seqs else "–"}
to {seqs[-1] if seqs else "–"}, {refused} refused) from agent <code>gw-demo-01</code>, received
through a real mosquitto and verified with the agent's Ed25519 key; {plant_h:.1f} h of plant time
on the simulator's clock. KPIs are ratios of sums of the base quantities (docs/kpi.md).<br>
<b>Not built yet:</b> the collector ingest, InfluxDB storage and the evidence engine
(before/after verdicts with confidence intervals, energy baseline, subsidy) — issues #6 and #7.
<br><b>说明：</b>数据由真实 MQTT 代理传输并经 Ed25519 签名验证；采集端入库、证据引擎（整改前后判定、
补贴测算）尚未实现。</p>
<table><tr><th>device 设备</th><th>windows 窗口</th><th>run h 运行</th><th>down h 停机</th>
<th>parts 产量</th><th>good 合格</th><th>kWh 能耗</th><th>A 可用率</th><th>P 性能</th>
<th>Q 质量</th><th>OEE 设备综合效率</th><th>kWh/good 单耗</th><th>coverage 覆盖率</th></tr>
{"".join(rows)}
</table>
<p>Generated {datetime.now(UTC):%Y-%m-%d %H:%M} UTC by <code>deploy/local/demo.sh</code>.</p>
</body></html>
"""
    report = out / "report.html"
    report.write_text(page, encoding="utf-8")
    windows_json = [r.model_dump(mode="json") for e in envelopes for r in e.records]
    (out / "windows.json").write_text(json.dumps(windows_json, indent=1), encoding="utf-8")
    return report


def stop_process(process: subprocess.Popen[str] | None) -> None:
    if process is not None and process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a short run (about 30 s)")
    parser.add_argument("--out", type=Path, default=ROOT / "out" / "demo")
    args = parser.parse_args()
    wall_s, speed = (20.0, 720.0) if args.quick else (90.0, 960.0)
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    for stale in ("agent.key", "agent.key.pub", "outbox.sqlite", "outbox.sqlite-wal"):
        (out / stale).unlink(missing_ok=True)
    broker = MosquittoServer(out / "mosquitto")
    simulator: subprocess.Popen[str] | None = None
    agent: subprocess.Popen[str] | None = None
    sink: WindowSink | None = None
    stack = contextlib.ExitStack()
    try:
        console.rule("retrofit-verify local demo")
        broker.start()
        console.print(f"mosquitto on {broker.url}")
        anchor = time.time()
        simulator, ready = start_simulator(out, speed, anchor, broker.port)
        console.print(f"plant simulator: Modbus {ready['modbus']}, OPC UA {ready['opcua']}")
        generate_key_pair(out / "agent.key", force=True)
        config = agent_config(out, ready, speed, anchor)
        console.print("installer check (retrofit-agent check-config, online):")
        subprocess.run([str(BIN / "retrofit-agent"), "check-config", str(config)], check=False)
        sink = WindowSink(broker)
        agent_log = stack.enter_context((out / "agent.log").open("w"))
        agent = subprocess.Popen(
            [str(BIN / "retrofit-agent"), "run", str(config), "--health-file",
             str(out / "health.json")],
            stdout=subprocess.DEVNULL, stderr=agent_log, text=True,
        )  # fmt: skip
        with Progress(console=console) as progress:
            task = progress.add_task(f"plant running at {speed:g}x", total=wall_s)
            for _ in range(int(wall_s * 4)):
                time.sleep(0.25)
                progress.advance(task, 0.25)
        stop_process(agent)
        time.sleep(1.0)  # the last batches after the agent's drain
        envelopes, refused = sink.envelopes(out / "agent.key")
        report = write_report(out, envelopes, refused, wall_s * speed / 3600)
        windows = sum(len(e.records) for e in envelopes)
        console.rule("done")
        console.print(
            f"{len(envelopes)} signed batches, {windows} windows verified, {refused} refused"
        )
        console.print(f"report:  {report}")
        console.print(f"windows: {out / 'windows.json'}   agent log: {out / 'agent.log'}")
        console.print(
            "[yellow]not built yet:[/yellow] collector ingest, InfluxDB store, evidence engine "
            "(issues #6, #7), web app (#8); the report is computed from the verified windows."
        )
        return 0 if windows and not refused else 1
    except KeyboardInterrupt:
        console.print("interrupted: stopping everything the demo started")
        return 130
    finally:
        if sink is not None:
            sink.close()
        stop_process(agent)
        stop_process(simulator)
        with contextlib.suppress(Exception):
            broker.stop()
        stack.close()


if __name__ == "__main__":
    os.chdir(ROOT)
    sys.exit(main())
