"""``retrofit-verify-bundle DIR --plan PLAN``: a reviewer checks a bundle offline (docs/verify.md).

Exit codes: 0 ``verified``; 1 ``not verified`` (each finding printed); 2 the bundle or plan
cannot be read; 3 ``not anchored`` (no contradiction, but a seal rests on a key the plan does
not list). Standard library argparse and rich only: no server code, no network.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console

from collector.verify.check import verify_bundle
from collector.verify.errors import VerifyError
from collector.verify.findings import EXIT_UNREADABLE, Report, finding_line
from collector.verify.load import load_trust_root
from collector.verify.platform import is_platform_bundle, verify_platform
from contract.terminal import json_for_terminal, say

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="retrofit-verify-bundle",
        description="Verify an enterprise evidence bundle offline against your own copy of "
        "the implementation plan (the trust root: the agents' keys it lists).",
    )
    parser.add_argument(
        "bundle", type=Path, help="an enterprise bundle's folder, or a platform bundle's"
    )
    parser.add_argument("--plan", type=Path, required=True, help="your plan file (.yaml/.xlsx)")
    parser.add_argument(
        "--collector-key",
        help="the collector key you expect: ed25519:<base64> or its SHA256:<fingerprint>",
    )
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    return parser


def _as_json(report: Report) -> dict[str, object]:
    return {
        "enterprise": report.enterprise,
        "result": report.verdict,
        "exit_code": report.exit_code,
        "findings": [f.as_json() for f in report.findings],
        "not_anchored": [f.as_json() for f in report.unanchored],
        "notes": report.notes,
    }


def _print(out: Console, report: Report) -> None:
    for note in report.notes:
        say(out, note, style="dim")
    for finding in [*report.unanchored, *report.findings]:
        say(out, finding_line(finding))
    found = len(report.findings)
    count = f" ({found} finding{'s' if found > 1 else ''})" if found else ""
    style = "bold green" if report.exit_code == 0 else "bold red"
    say(out, f"{report.enterprise}: {report.verdict}{count}", style=style)


def _reports(bundle: Path, plan: Path, pin: str | None) -> tuple[list[Report], int]:
    """Every report of the bundle (one, or a platform's enterprises then its own) and the
    exit code; VerifyError when the bundle or the plan cannot be read."""
    if is_platform_bundle(bundle):
        result = verify_platform(bundle, load_trust_root(plan), collector_key=pin)
        return result.reports, result.exit_code
    report = verify_bundle(bundle, plan, collector_key=pin)
    return [report], report.exit_code


def main(argv: Sequence[str] | None = None) -> int:
    """Run the verifier; return (and, as a script, exit with) its exit code."""
    args = _parser().parse_args(argv)
    out = Console(highlight=False, soft_wrap=True)
    try:
        reports, code = _reports(args.bundle, args.plan, args.collector_key)
    except VerifyError as exc:
        errors = Console(stderr=True, highlight=False, soft_wrap=True)
        say(errors, f"retrofit-verify-bundle: cannot read {exc.where}")
        for line in exc.detail.splitlines():
            say(errors, f"  {line}")
        return EXIT_UNREADABLE
    if args.json:
        tree = [_as_json(report) for report in reports]
        text = json.dumps(tree[0] if len(tree) == 1 else {"exit_code": code, "bundles": tree},
                          ensure_ascii=False, indent=1, sort_keys=True)  # fmt: skip
        out.out(json_for_terminal(text), highlight=False)
    else:
        for report in reports:
            _print(out, report)
    return code


if __name__ == "__main__":
    sys.exit(main())
