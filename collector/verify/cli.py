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
from contract.terminal import json_for_terminal, say

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="retrofit-verify-bundle",
        description="Verify an enterprise evidence bundle offline against your own copy of "
        "the implementation plan (the trust root: the agents' keys it lists).",
    )
    parser.add_argument("bundle", type=Path, help="the enterprise bundle's folder")
    parser.add_argument("--plan", type=Path, required=True, help="your plan file (.yaml/.xlsx)")
    parser.add_argument(
        "--collector-key",
        help="the collector key you expect: ed25519:<base64> or its SHA256:<fingerprint>",
    )
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    return parser


def _as_json(report: Report) -> str:
    return json.dumps(
        {
            "enterprise": report.enterprise,
            "result": report.verdict,
            "exit_code": report.exit_code,
            "findings": [f.as_json() for f in report.findings],
            "not_anchored": [f.as_json() for f in report.unanchored],
            "notes": report.notes,
        },
        ensure_ascii=False,
        indent=1,
        sort_keys=True,
    )


def _print(out: Console, report: Report) -> None:
    for note in report.notes:
        say(out, note, style="dim")
    for finding in [*report.unanchored, *report.findings]:
        say(out, finding_line(finding))
    found = len(report.findings)
    count = f" ({found} finding{'s' if found > 1 else ''})" if found else ""
    style = "bold green" if report.exit_code == 0 else "bold red"
    say(out, f"{report.enterprise}: {report.verdict}{count}", style=style)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the verifier; return (and, as a script, exit with) its exit code."""
    args = _parser().parse_args(argv)
    out = Console(highlight=False, soft_wrap=True)
    try:
        report = verify_bundle(args.bundle, args.plan, collector_key=args.collector_key)
    except VerifyError as exc:
        errors = Console(stderr=True, highlight=False, soft_wrap=True)
        say(errors, f"retrofit-verify-bundle: cannot read {exc.where}")
        for line in exc.detail.splitlines():
            say(errors, f"  {line}")
        return EXIT_UNREADABLE
    if args.json:
        out.out(json_for_terminal(_as_json(report)), highlight=False)
    else:
        _print(out, report)
    return report.exit_code


if __name__ == "__main__":
    sys.exit(main())
