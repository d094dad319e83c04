"""The demo's reviewer: ``retrofit-verify-bundle`` on the bundles the collector wrote.

What a reviewer does with a bundle, offline, trusting no server (docs/verify.md): the demo runs
the verifier as its own process on the platform's bundle folder (every enterprise bundle in it,
then the platform's own roll-up) against the demo's plan file, the collector's bundle key pinned
by its fingerprint. One line per bundle is printed, and the demo's ``verdicts.json`` (beside the
``evidence/`` folder: a file inside a bundle's folder would be one its manifest does not list)
keeps each result with its findings under ``verification``. Every bundle is honest here, so
every one must say ``verified``: anything else is a failure of the demo.

The agents' side that makes honest bundles verify: every agent stops cleanly after the reporting
period's last day (a stop seals the days already over), and the enterprise whose gateway is
switched off for good is retired (``retrofit-agent retire`` seals the day it stopped in), so no
device-day the evidence uses is left unsealed.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from rich.markup import escape

__all__ = ["Verification", "finish_verifier", "start_verifier"]

BIN = Path(sys.executable).parent
#: What ``verdicts.json`` keeps of each bundle's result.
_KEPT = ("enterprise", "result", "exit_code", "findings", "not_anchored")


@dataclasses.dataclass
class Verification:
    """The verifier's result on every bundle: one line each, and whether all said verified."""

    ok: bool
    lines: list[str]
    #: Per bundle (enterprise id, or the platform id for its roll-up): ``verified`` or not.
    results: dict[str, str]
    #: What ``verdicts.json`` keeps: the command, its exit code, each bundle's findings.
    document: dict[str, Any]


def start_verifier(platform_dir: Path, plan: Path, collector_key: str) -> subprocess.Popen[str]:
    """``retrofit-verify-bundle PLATFORM_DIR --plan PLAN --collector-key KEY --json``, started."""
    command = [str(BIN / "retrofit-verify-bundle"), str(platform_dir), "--plan", str(plan),
               "--collector-key", collector_key, "--json"]  # fmt: skip
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish_verifier(process: subprocess.Popen[str]) -> Verification:
    """Wait for the verifier; its lines, results and the document for ``verdicts.json``."""
    stdout, stderr = process.communicate()
    command = " ".join(str(arg) for arg in process.args) if isinstance(process.args, list) else ""
    try:
        tree: dict[str, Any] = json.loads(stdout)
    except ValueError:
        problem = f"retrofit-verify-bundle exit {process.returncode}: {stderr.strip()[-500:]}"
        document = {"command": command, "exit_code": process.returncode, "error": problem}
        return Verification(False, [f"[red]VERIFIER FAILED[/red] {escape(problem)}"], {}, document)
    bundles = tree.get("bundles", [tree])
    document = {
        "command": command,
        "exit_code": process.returncode,
        "bundles": [{key: bundle[key] for key in _KEPT} for bundle in bundles],
    }
    results = {bundle["enterprise"]: bundle["result"] for bundle in bundles}
    ok = process.returncode == 0 and all(result == "verified" for result in results.values())
    # What a reviewer types: the same command on one bundle or the platform, without --json.
    typed = command.removesuffix(" --json").replace(str(BIN) + "/", "")
    lines = [f"verify:      {escape(typed)}", *(_line(bundle) for bundle in bundles)]
    return Verification(ok, lines, results, document)


def _line(bundle: dict[str, Any]) -> str:
    """``ent-01: verified``, or the result with the first findings."""
    if bundle["exit_code"] == 0:
        return f"verify:      {escape(bundle['enterprise'])}: [green]{bundle['result']}[/green]"
    findings = bundle["findings"] or bundle["not_anchored"]
    shown = "; ".join(_finding(finding) for finding in findings[:3])
    more = f" (+{len(findings) - 3} more)" if len(findings) > 3 else ""
    return (
        f"verify:      {escape(bundle['enterprise'])}: [red]{escape(bundle['result'])}[/red] "
        f"({len(findings)} findings: {escape(shown)}{more})"
    )


def _finding(finding: dict[str, Any]) -> str:
    where = " ".join(
        str(finding[key]) for key in ("device", "day", "field") if finding.get(key) is not None
    )
    return f"{finding['code']} {where}".strip()
