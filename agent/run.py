"""``retrofit-agent run`` on its lean path: argparse and the service, no interactive CLI.

``run`` is the long-lived process on a small gateway, and the interactive CLI's libraries
(typer, click, rich: about 4 MB of resident memory, measured by bench/agent_footprint.py) are
of no use to it once started. So this module parses ``CONFIG [--metrics-port N]
[--health-file F] [--verbose]`` with argparse and imports neither typer nor rich; both the
console script (:mod:`agent.entry`) and the full CLI's ``run`` command (:mod:`agent.cli`)
call :func:`run_lean`, so they accept the same options and return the same exit codes
(docs/operations.md; tests/test_cli.py checks they agree).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

__all__ = ["run_lean"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="retrofit-agent run", add_help=False)
    parser.add_argument("config", type=Path)
    parser.add_argument("--metrics-port", type=int, default=None)
    parser.add_argument("--health-file", type=Path, default=None)
    parser.add_argument("--verbose", "-v", action="store_true")
    return parser


def run_lean(argv: list[str]) -> int:
    """``retrofit-agent run`` without the interactive CLI's libraries; returns the exit code."""
    import asyncio
    import signal

    from agent.config import load_config
    from agent.errors import AgentError, AgentRetiredError
    from agent.outbox import OutboxError
    from agent.retire import EXIT_RETIRED
    from agent.service import AgentService
    from contract.errors import ConfigFileError, ConfigInvalidError, ContractError
    from contract.logs import configure_logging

    args = _parser().parse_args(argv)
    configure_logging(args.verbose)
    try:
        loaded = load_config(args.config)
    except (ConfigFileError, ConfigInvalidError) as exc:
        for issue in exc.issues:
            print(issue, file=sys.stderr)
        return 2 if isinstance(exc, ConfigFileError) else 1

    async def serve() -> None:
        service = AgentService(loaded, metrics_port=args.metrics_port, health_path=args.health_file)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        await service.run(stop)

    try:
        asyncio.run(serve())
    except AgentRetiredError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_RETIRED
    except (AgentError, ContractError, OutboxError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 4
    return 0
