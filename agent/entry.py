"""The ``retrofit-agent`` console script: a lean path for ``run``, the full CLI for the rest.

``run`` is the long-lived process on a small gateway, and the interactive CLI's libraries
(typer, click, rich: about 4 MB of resident memory, measured by bench/agent_footprint.py) are
of no use to it once started. So ``retrofit-agent run CONFIG [--metrics-port N]
[--health-file F]`` goes to :mod:`agent.run` (argparse, then straight to the service);
everything else, ``run --help`` included, goes to :mod:`agent.cli`, whose ``run`` command
calls the same :func:`agent.run.run_lean`. Both accept the same options and the same exit
codes (docs/operations.md); tests/test_cli.py checks they agree.
"""

from __future__ import annotations

import sys

from agent.run import run_lean

__all__ = ["main"]


def main() -> None:
    """Console-script entry point."""
    argv = sys.argv[1:]
    if argv[:1] == ["run"] and not {"--help", "-h"} & set(argv):
        sys.exit(run_lean(argv[1:]))
    from agent.cli import main as cli_main

    cli_main()
