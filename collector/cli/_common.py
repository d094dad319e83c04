"""What the ``retrofit-collector`` commands share: consoles, exit codes, options, and the
way each one loads the configuration, opens the registry and turns expected failures into a
message and an exit code.

Exit codes: 0 done; 1 refused (an invalid configuration or plan, a conflict, not found);
2 unreadable input or bad arguments (and, for the registry commands, a registry that cannot be
opened); 3 the output cannot take what was asked for; 4 the registry or InfluxDB cannot be
used. Each command's docstring says which of them it returns. A user mistake never prints a
traceback.

Every line goes out through :func:`contract.terminal.say`: registry text (a plan's names, who
loaded it, a quarantined message's topic) is hostile input, printed with markup off and
control characters escaped. Heavy modules (the registry, the store, the evidence engine) are
imported inside the functions that use them, so loading the command line stays light.
"""

from __future__ import annotations

from collections.abc import Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from rich.console import Console

from contract.terminal import say

if TYPE_CHECKING:
    from collector.config import CollectorConfig
    from collector.errors import CollectorError
    from collector.registry import Registry, RegistryLocation

__all__ = [
    "DEFAULT_CONFIG",
    "EXIT_ERRORS",
    "EXIT_OK",
    "EXIT_OUTPUT",
    "EXIT_UNAVAILABLE",
    "EXIT_UNREADABLE",
    "REGISTRY_DEPRECATED",
    "ByOption",
    "ConfigOption",
    "RegistryOption",
    "console",
    "count",
    "err_console",
    "error_exit",
    "load_config",
    "open_registry",
    "refuse",
    "refuse_id_collisions",
    "registry_path",
    "run_or_exit",
    "write_output",
]

EXIT_OK = 0
#: Refused: an invalid configuration or plan, a conflict, not found.
EXIT_ERRORS = 1
#: Unreadable input, bad arguments; for the registry commands, a registry that cannot be opened.
EXIT_UNREADABLE = 2
#: The output (a bundle's folder) cannot take what was asked for.
EXIT_OUTPUT = 3
#: The registry or InfluxDB cannot be used.
EXIT_UNAVAILABLE = 4

console = Console()
err_console = Console(stderr=True)
_T = TypeVar("_T")

ConfigOption = Annotated[
    Path,
    typer.Option(
        "--config", "-c", envvar="RV_COLLECTOR_CONFIG", help="The collector's YAML configuration."
    ),
]
#: The registry commands' old way to the collector, the registry file itself: kept working,
#: hidden from --help, with a warning (#15). Given, it wins over --config.
RegistryOption = Annotated[
    Path | None,
    typer.Option(
        "--registry",
        envvar="RV_REGISTRY",
        hidden=True,
        help="Deprecated: the registry database itself; give --config instead.",
    ),
]
ByOption = Annotated[str, typer.Option("--by", help="Who makes the change (kept in the audit).")]
DEFAULT_CONFIG = Path("collector.yaml")
#: What ``--registry`` prints, once, when it is given.
REGISTRY_DEPRECATED = (
    "warning: --registry (RV_REGISTRY) is deprecated and will go; give --config "
    "(RV_COLLECTOR_CONFIG), the collector's configuration, which names the registry"
)


def count(number: int, noun: str, plural: str | None = None) -> str:
    """``1 agent``, ``2 agents``, ``3 entries`` (with ``plural``)."""
    return f"{number} {noun if number == 1 else plural or noun + 's'}"


def error_exit(problem: Exception | str, code: int) -> typer.Exit:
    """Print ``error: <problem>`` on stderr, escaped (it may quote registry or file text), and
    return the exit to raise."""
    say(err_console, f"error: {problem}", "red")
    return typer.Exit(code)


def load_config(path: Path) -> CollectorConfig:
    """The collector's configuration; its problems printed, exit 2 (unreadable) or 1."""
    from collector.config import load_collector_config
    from contract.configfile.console import print_issues
    from contract.errors import ConfigFileError, ConfigInvalidError

    try:
        return load_collector_config(path)
    except (ConfigFileError, ConfigInvalidError) as exc:
        print_issues(err_console, exc.issues)
        code = EXIT_UNREADABLE if isinstance(exc, ConfigFileError) else EXIT_ERRORS
        raise typer.Exit(code) from None


def refuse_id_collisions(path: RegistryLocation) -> None:
    """Exit 4 if the registry at ``path`` gives one platform, enterprise or agent id to two
    plans (loaded before ids were checked across plans): serving or ingesting would file one
    plan's data under another's, so neither starts until the operator resolves it."""
    from collector.errors import IdCollisionError, RegistryUnavailable
    from collector.registry import Registry

    try:
        with Registry(path) as registry:
            registry.require_unique_ids()
    except (IdCollisionError, RegistryUnavailable) as exc:
        raise error_exit(exc, EXIT_UNAVAILABLE) from None


def run_or_exit(work: Coroutine[Any, Any, _T]) -> _T:
    """Run the command's async work; a store or registry failure exits 4 with its message."""
    import asyncio

    from collector.errors import CollectorError
    from collector.store import StoreError

    try:
        return asyncio.run(work)
    except (CollectorError, StoreError) as exc:
        raise error_exit(exc, EXIT_UNAVAILABLE) from None


def registry_path(config: Path, registry: Path | None) -> RegistryLocation:
    """The registry a registry command works on: the one the collector's configuration
    names, or, with a warning, the one the deprecated ``--registry`` names."""
    if registry is not None:
        say(err_console, REGISTRY_DEPRECATED, "yellow")
        return registry
    return load_config(config).registry


def open_registry(path: RegistryLocation) -> Registry:
    """The registry at ``path`` for a registry command; exit 2 if it cannot be opened."""
    from collector.errors import RegistryUnavailable
    from collector.registry import Registry

    try:
        return Registry(path)
    except RegistryUnavailable as exc:
        raise error_exit(exc, EXIT_UNREADABLE) from None


def refuse(exc: CollectorError | ValueError) -> typer.Exit:
    """A registry command's refusal: exit 2 if the registry is unavailable, else 1."""
    from collector.errors import RegistryUnavailable

    code = EXIT_UNREADABLE if isinstance(exc, RegistryUnavailable) else EXIT_ERRORS
    return error_exit(exc, code)


def write_output(out: Path, content: bytes) -> None:
    """Write ``content`` to ``out`` through a temporary file and a rename; exit 3 if it fails."""
    partial = out.with_name(out.name + ".new")
    try:
        partial.write_bytes(content)
        partial.replace(out)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise error_exit(f"{out}: cannot write ({exc.strerror or exc})", EXIT_OUTPUT) from None
