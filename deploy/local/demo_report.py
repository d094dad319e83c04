"""The demo's last step: the evidence bundles, their verdicts against the scenario, accuracy.

``retrofit-collector rollup`` (the evidence engine and the report renderers) reads the registry
and InfluxDB's daily rollups and writes the bundles: JSON, HTML and PDF in zh-CN and en, with
SHA-256 manifests. This module only reads what it wrote: each enterprise's verdict against what
its simulated retrofit did (sim/scenario.py), and the device-days the evidence rests on against
the simulator's exact ground truth. It feeds the verdicts to the dashboards and checks every
panel, and writes a one-page demo summary and the screenshots.
"""

from __future__ import annotations

import dataclasses
import html
import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from demo_verify import finish_verifier, start_verifier
from rich.console import Console

from sim.scenario import PLATFORM_ID, S7_MACHINE, DemoEnterprise, Role, Timeline
from stack import ChildProcess

__all__ = ["DemoResult", "evidence_and_report", "rollup_command"]

BIN = Path(sys.executable).parent
#: The verdict each scenario role must get (sim/scenario.py); listed enterprises without an
#: agent have no data at all.
EXPECTED: dict[Role | None, str] = {
    "improves": "pass",
    "unchanged": "fail",
    "goes_offline": "insufficient_data",
    None: "insufficient_data",
}
#: Quantities compared with the simulator's ground truth, per device and local day.
ACCURACY_FIELDS = ("run_s", "idle_s", "down_s", "planned_s", "total_count", "reject_count",
                   "energy_kwh")  # fmt: skip


@dataclasses.dataclass
class DemoResult:
    """What the demo prints at the end, and whether every verdict matched the scenario."""

    ok: bool
    summary: list[str]


def _collector(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "retrofit-collector"), *args], capture_output=True, text=True, check=False
    )


def rollup_command(
    out: Path, collector_config: Path, enterprises: Sequence[DemoEnterprise]
) -> list[str]:
    """``retrofit-collector rollup`` into ``out/evidence`` (the demo runs it as a child).

    PDFs for the simulated enterprises, the platform and the province; HTML for the plan's
    enterprises without an agent (seven in quick mode: their reports say only "no data", and
    a PDF takes most of a second to render).
    """
    pdf_for = [arg for enterprise in enterprises for arg in ("--pdf-for", enterprise.id)]
    return [str(BIN / "retrofit-collector"), "rollup", "--out", str(out / "evidence"),
            "--config", str(collector_config), *pdf_for]  # fmt: skip


def evidence_and_report(
    *,
    out: Path,
    rollup: ChildProcess,
    collector_config: Path,
    influx_url: str,
    enterprises: Sequence[DemoEnterprise],
    days: Timeline,
    truth: Mapping[str, Mapping[str, Mapping[str, float]]],
    facts: Mapping[str, int],
    screenshots: bool,
    console: Console,
    plan: Path,
    collector_key: str,
) -> DemoResult:
    """Wait for the bundles, verify them as a reviewer would (``plan``, ``collector_key``: the
    bundle key's fingerprint), check the verdicts, measure the accuracy, write the summary."""
    bundle = out / "evidence"
    while rollup.is_running:
        time.sleep(0.2)
    if rollup.returncode != 0:
        raise SystemExit(f"demo: retrofit-collector rollup failed:\n{rollup.log_tail()}")
    console.log("evidence bundles written; retrofit-verify-bundle checks them ...")
    verifier = start_verifier(bundle / PLATFORM_ID, plan, collector_key)
    platform = json.loads((bundle / PLATFORM_ID / "platform.json").read_text("utf-8"))
    evidence = {
        line["id"]: json.loads(
            (bundle / PLATFORM_ID / line["id"] / "evidence.json").read_text("utf-8")
        )
        for line in platform["enterprises"]
    }
    roles: dict[str, Role] = {e.id: e.role for e in enterprises}
    accuracy = _accuracy(evidence, truth, enterprises, days)
    console.log("dashboards: verdicts into InfluxDB, every panel's query checked ...")
    dashboards = _dashboards(bundle, collector_config, influx_url)
    mismatches = [
        f"{ident}: expected {EXPECTED[roles.get(ident)]}, got {doc['status']}"
        for ident, doc in evidence.items()
        if doc["status"] != EXPECTED[roles.get(ident)]
    ]
    mismatches += _missing_flags(evidence, enterprises)
    if not dashboards.ok:
        mismatches.append(f"dashboards: {dashboards.text}")
    verification = finish_verifier(verifier)
    mismatches += [
        f"{ident}: retrofit-verify-bundle says {result}, expected verified"
        for ident, result in verification.results.items()
        if result != "verified"
    ]
    if not verification.results:
        mismatches.append("retrofit-verify-bundle gave no result")
    summary_doc = _summary_document(platform, evidence, roles, accuracy, facts)
    summary_doc["dashboards"] = {"ok": dashboards.ok, "result": dashboards.text}
    summary_doc["verification"] = {"ok": verification.ok, **verification.document}
    (out / "verdicts.json").write_text(
        json.dumps(summary_doc, ensure_ascii=False, indent=1) + "\n", "utf-8"
    )
    page = out / "demo.html"
    page.write_text(_page(summary_doc, days, bundle), "utf-8")
    reports = {
        "platform report": bundle / PLATFORM_ID / "report.en.html",
        "enterprise report": bundle / PLATFORM_ID / enterprises[0].id / "report.zh-CN.html",
    }
    lines = [
        f"{facts['windows_written']} windows through the collector into InfluxDB, "
        f"{facts['quarantined']} quarantined",
        *(
            f"{ident} ({roles[ident]}): {doc['status']}"
            for ident, doc in evidence.items()
            if ident in roles
        ),
        f"platform {PLATFORM_ID}: {platform['passed_count']} of {len(evidence)} passed, minimum "
        f"of {platform['minimum']} {'met' if platform['minimum_met'] else 'not met'}, subsidy "
        f"{platform['total_fen'] / 100:,.2f} CNY",
        f"bundles:     {bundle}  (manifest.json: SHA-256 of every file)",
        f"reports:     {reports['platform report']} (and .pdf, report.zh-CN.*)",
        f"             {reports['enterprise report']} (and .pdf, report.en.*)",
        f"summary:     {page} (verdicts against the scenario, accuracy against ground truth)",
    ]
    if screenshots:
        for name, report in reports.items():
            target = out / "screenshots" / f"{name.replace(' ', '-')}.png"
            shot = _screenshot(report, target)
            lines.append(f"screenshot:  {shot}" if shot else "screenshot:  chromium not found")
    lines += [_accuracy_line(kind, rows) for kind, rows in accuracy.items()]
    lines += [
        *verification.lines,
        f"dashboards:  {dashboards.text}",
        *(f"[red]MISMATCH[/red] {line}" for line in mismatches),
    ]
    ok = not mismatches and facts["quarantined"] == 0 and facts["windows_written"] > 0
    return DemoResult(ok, lines)


def _accuracy_line(kind: str, rows: Mapping[str, Mapping[str, float]]) -> str:
    """One accuracy row for the console: the bias of the state times and the parts."""
    shown = [f"{name} {rows[name]['bias_pct']:+.2f} %" for name in ("run_s", "idle_s",
             "total_count") if name in rows]  # fmt: skip
    days = int(max(row["device_days"] for row in rows.values()))
    return f"accuracy ({_KIND_TEXT[kind]}, {days} device-days): bias {', '.join(shown)}"


def _missing_flags(
    evidence: Mapping[str, Mapping[str, Any]], enterprises: Sequence[DemoEnterprise]
) -> list[str]:
    """The scenario's deliberate slip (an ideal cycle set too long) must reach the reviewer."""
    missing = []
    for enterprise in enterprises:
        device = enterprise.misconfigured_device
        flags = evidence[enterprise.id]["flags"]
        if device and not any(
            f["check"] == "count_faster_than_ideal" and f["device"] == device for f in flags
        ):
            missing.append(f"{enterprise.id}: expected count_faster_than_ideal on {device}")
    return missing


@dataclasses.dataclass(frozen=True)
class DashboardsResult:
    """Whether every dashboard panel returned data, and the line that says so."""

    ok: bool
    text: str


def _dashboards(bundle: Path, collector_config: Path, influx_url: str) -> DashboardsResult:
    """Verdicts into InfluxDB for the Grafana dashboards, then every panel's query checked."""
    documents = sorted(
        str(path)
        for path in (bundle / PLATFORM_ID).rglob("*.json")
        if path.name in ("evidence.json", "platform.json")
    )
    feed = _collector("dashboards", "evidence", *documents, "--config", str(collector_config))
    if feed.returncode != 0:
        tail = feed.stderr.strip()[-300:]
        problem = f"dashboards evidence failed (exit {feed.returncode}): {tail}"
        return DashboardsResult(False, problem)
    check = _collector("dashboards", "check", "--influx", influx_url, "--database", "rv")
    if check.returncode == 0:
        return DashboardsResult(True, "every panel, annotation and variable returns data")
    empty = "; ".join(check.stderr.strip().splitlines())
    return DashboardsResult(
        False, f"panels WITHOUT data (dashboards check exit {check.returncode}): {empty}"
    )


#: The accuracy rows: devices grouped by how the agent reads them (``_device_kinds``).
ACCURACY_KINDS = ("controller", "s7", "retrofit")


def _device_kinds(enterprises: Sequence[DemoEnterprise]) -> dict[str, str]:
    """Each machine's accuracy row: a state code over Modbus TCP or OPC UA (``controller``),
    a state code in an S7 data block (``s7``), or a state inferred from a power meter
    (``retrofit``)."""
    kinds = {}
    for enterprise in enterprises:
        for machine in enterprise.machine_ids:
            kind = "retrofit" if enterprise.measured_by == "retrofit" else "controller"
            kinds[machine] = "s7" if machine == S7_MACHINE else kind
    return kinds


def _compared(
    row: Mapping[str, Any], exact: Mapping[str, float], kind: str
) -> dict[str, tuple[float, float]]:
    """(measured, truth) of each quantity of one device-day.

    An inferred state is never ``down`` (docs/kpi.md, "Inferred state": a meter cannot tell a
    breakdown from waiting, both draw the idle power), so a retrofit device's ``idle_s`` is
    held against the truth's idle plus down, and its ``down_s`` (always 0) is not compared.
    """
    pairs = {}
    for name in ACCURACY_FIELDS:
        if row.get(name) is None:
            continue
        truth = float(exact[name])
        if kind == "retrofit" and name == "down_s":
            continue
        if kind == "retrofit" and name == "idle_s":
            truth += float(exact["down_s"])
        pairs[name] = (float(row[name]), truth)
    return pairs


def _accuracy(
    evidence: Mapping[str, Mapping[str, Any]],
    truth: Mapping[str, Mapping[str, Mapping[str, float]]],
    enterprises: Sequence[DemoEnterprise],
    days: Timeline,
) -> dict[str, dict[str, dict[str, float]]]:
    """The evidence's device-days against ground truth: per row of ``ACCURACY_KINDS`` and
    quantity, bias and spread (%).

    Over the device-days of the periods whose gateway was online all day (the gateway that is
    switched off is left out from that day on). ``bias_pct`` = 100 (Σ measured / Σ truth − 1);
    ``mean_abs_pct`` = 100 Σ|measured − truth| / Σ truth; ``p95_abs_pct`` the 95th percentile
    of the days' |relative error|. A row with no device-day online is left out.
    """
    offline_day = days.offline_at.date().isoformat()
    kinds = _device_kinds(enterprises)
    pairs: dict[str, dict[str, list[tuple[float, float]]]] = {
        kind: {name: [] for name in ACCURACY_FIELDS} for kind in ACCURACY_KINDS
    }
    for enterprise in enterprises:
        for row in evidence[enterprise.id]["device_days"]:
            if enterprise.role == "goes_offline" and row["day"] >= offline_day:
                continue
            exact = truth.get(row["device"], {}).get(row["day"])
            kind = kinds.get(row["device"])
            if exact is None or kind is None:
                continue
            for name, pair in _compared(row, exact, kind).items():
                pairs[kind][name].append(pair)
    result = {kind: _statistics(by_name) for kind, by_name in pairs.items()}
    return {kind: rows for kind, rows in result.items() if rows}


def _statistics(pairs: Mapping[str, list[tuple[float, float]]]) -> dict[str, dict[str, float]]:
    result: dict[str, dict[str, float]] = {}
    for name, values in pairs.items():
        total = sum(t for _, t in values)
        if not values or total <= 0:
            continue
        relative = sorted(abs(m - t) / t for m, t in values if t > 0)
        result[name] = {
            "device_days": len(values),
            "bias_pct": 100 * (sum(m for m, _ in values) / total - 1),
            "mean_abs_pct": 100 * sum(abs(m - t) for m, t in values) / total,
            "p95_abs_pct": 100 * relative[int(0.95 * (len(relative) - 1))] if relative else 0.0,
        }
    return result


def _kpi_line(kpi: Mapping[str, Any]) -> dict[str, Any]:
    change = kpi.get("change") or {}
    energy = kpi.get("energy") or {}
    interval = kpi.get("interval")
    return {
        "kpi": kpi["kpi"],
        "status": kpi["status"],
        "reasons": kpi["reasons"],
        "usable_days": [kpi["baseline"]["usable_days"], kpi["reporting"]["usable_days"]],
        "change": change.get("change"),
        "energy_savings_pct": energy.get("savings_pct"),
        "interval": [interval["low"], interval["high"]] if interval else None,
    }


def _summary_document(
    platform: Mapping[str, Any],
    evidence: Mapping[str, Mapping[str, Any]],
    roles: Mapping[str, Role],
    accuracy: Mapping[str, Mapping[str, Mapping[str, float]]],
    facts: Mapping[str, int],
) -> dict[str, Any]:
    return {
        "enterprises": [
            {
                "id": ident,
                "scenario": roles.get(ident),
                "expected": EXPECTED[roles.get(ident)],
                "status": doc["status"],
                "flags": [flag["check"] for flag in doc["flags"]],
                "subsidy_fen": doc["subsidy"]["subsidy_fen"],
                "kpis": [_kpi_line(kpi) for kpi in doc["attempts"][-1]["kpis"]],
            }
            for ident, doc in evidence.items()
        ],
        "platform": {
            key: platform[key]
            for key in ("passed_count", "minimum", "minimum_met", "total_fen", "platform_capped")
        },
        "accuracy": accuracy,
        "path": dict(facts),
    }


def _kpi_text(kpi: Mapping[str, Any]) -> str:
    text = f"{kpi['kpi']} {kpi['status']}"
    if kpi["change"] is not None:
        text += f" {kpi['change']:+.1f}"
    if kpi["interval"]:
        text += f" [{kpi['interval'][0]:+.1f}, {kpi['interval'][1]:+.1f}]"
    if kpi["reasons"]:
        text += f" ({', '.join(kpi['reasons'])})"
    return text


_KIND_TEXT = {
    "controller": "state code, Modbus TCP / OPC UA",
    "s7": "state code, S7 data block",
    "retrofit": "inferred from a power meter",
}


def _page(summary: Mapping[str, Any], days: Timeline, bundle: Path) -> str:
    rows = []
    for line in summary["enterprises"]:
        if line["scenario"] is None:
            continue
        kpis = "; ".join(_kpi_text(kpi) for kpi in line["kpis"])
        mark = "✓" if line["status"] == line["expected"] else "✗"
        link = (bundle / PLATFORM_ID / line["id"] / "report.zh-CN.html").as_uri()
        rows.append(
            f"<tr><td><a href='{link}'>{line['id']}</a></td><td>{line['scenario']}</td>"
            f"<td>{line['expected']}</td><td class='{line['status']}'>{line['status']} {mark}</td>"
            f"<td>{html.escape(kpis)}</td><td>{html.escape(', '.join(line['flags']))}</td></tr>"
        )
    accuracy = "".join(
        f"<tr><td>{_KIND_TEXT[kind]}</td><td>{name}</td><td>{int(a['device_days'])}</td>"
        f"<td>{a['bias_pct']:+.2f} %</td><td>{a['mean_abs_pct']:.2f} %</td>"
        f"<td>{a['p95_abs_pct']:.2f} %</td></tr>"
        for kind, rows in summary["accuracy"].items()
        for name, a in rows.items()
    )
    platform = summary["platform"]
    facts = summary["path"]
    report = (bundle / PLATFORM_ID / "report.en.html").as_uri()
    met = "met" if platform["minimum_met"] else "not met"
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>retrofit-verify demo summary · 演示摘要</title>
<style>
body {{ font-family: "Noto Sans CJK SC", "Noto Sans", sans-serif; margin: 1.5rem 2rem; }}
table {{ border-collapse: collapse; margin: .8rem 0; }}
th, td {{ border: 1px solid #999; padding: .25rem .55rem; text-align: left; }}
th {{ background: #e8eef5; }} .pass {{ background: #e3f4e1; }} .fail {{ background: #fbe3e1; }}
.insufficient_data {{ background: #fff6d6; }}
</style></head><body>
<h1>Demo summary · 演示摘要</h1>
<p>Baseline {days.baseline[0]} – {days.baseline[1]}, go-live {days.go_live}, reporting
{days.reporting[0]} – {days.reporting[1]}. Platform {PLATFORM_ID}: {platform["passed_count"]}
passed, minimum of {platform["minimum"]} {met}, subsidy {platform["total_fen"] / 100:,.2f} CNY.
<a href="{report}">The platform report</a>.</p>
<h2>Verdicts against what the simulated retrofits did</h2>
<table><tr><th>enterprise</th><th>scenario</th><th>expected</th><th>verdict</th><th>KPIs
(change, decisive 95 % interval)</th><th>flags</th></tr>{"".join(rows)}</table>
<h2>The evidence's device-days against the simulator's exact ground truth</h2>
<p>Retrofit devices infer their state from a power meter: never down, so their idle time is
held against the truth's idle plus down (docs/demo.md, "Accuracy").</p>
<table><tr><th>devices</th><th>quantity</th><th>device-days</th><th>bias</th><th>mean |error|</th>
<th>95th percentile |error|</th></tr>{accuracy}</table>
<p>{facts["windows_written"]} windows written by the collector, {facts["duplicates"]} duplicates,
{facts["quarantined"]} quarantined.</p>
</body></html>
"""


def _screenshot(page: Path, target: Path) -> Path | None:
    """The page's first screen (A4 proportions) as PNG, by headless Chromium (FIELD-NOTES.md)."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None or not page.exists():
        return None
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="rv-chromium-") as profile:
        subprocess.run(
            [chromium, "--headless", "--no-sandbox", "--disable-gpu",
             "--disable-background-networking", "--disable-component-update", "--no-first-run",
             f"--user-data-dir={profile}", "--hide-scrollbars", "--window-size=1240,1754",
             f"--screenshot={target}", page.as_uri()],
            capture_output=True, timeout=60, check=False,
        )  # fmt: skip
    return target if target.exists() and target.stat().st_size > 0 else None
