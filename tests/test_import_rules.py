"""Imports go one way (docs/architecture.md, STYLE.md "Layout"), and there is no import circle.

Read from the source (tests/import_graph.py): imports inside functions count, those under
`if TYPE_CHECKING:` do not. The rules:

- the agent imports nothing of the collector, the simulator or the test servers (`stack`);
- the collector and the simulator import nothing of the agent: what both sides use lives in
  `contract`, which imports nothing of ours; the simulator imports nothing of the collector;
- the ingest imports nothing of the web app;
- the evidence engine takes values: importing `collector.evidence` (with its parent packages,
  as Python runs them) reaches no registry, store, web or ingest module and no database, HTTP
  or MQTT client library;
- a bundle's proof files are pure: importing `collector.proof` reaches nothing of ours but
  `contract` (no registry, store, ingest, web app, report renderer or bundle writer) and no
  library beyond the base dependencies, so a reviewer's verifier can use it;
- the offline verifier stands alone: importing `collector.verify` reaches nothing of ours but
  itself, `collector.evidence`, `collector.plan`, `collector.proof` and `contract` (no bundle
  writer, registry, store, ingest, web app, report, dashboards, export, cli or broker; no agent,
  simulator or test servers) and no database, HTTP, MQTT, template or PDF library nor a
  POSIX-only module, so a reviewer installs it on a laptop, Windows included (docs/verify.md);
- no import circle among our modules.

A ratchet: :data:`KNOWN` lists the violations that still exist. A test fails on any violation
not in it, and on any entry of it that no longer occurs: whoever removes one removes its line.
"""

from __future__ import annotations

import subprocess
import sys
from functools import cache
from pathlib import Path

from tests.import_graph import (
    Edge,
    collect,
    cycles,
    external_imports,
    parents,
    reachable,
    under,
)

ROOT = Path(__file__).resolve().parents[1]

#: (importer, what it must not import, why): a module matches when it is the name or below it.
RULES = (
    ("agent", "collector", "the agent never imports the collector"),
    ("agent", "sim", "the agent never imports the simulator"),
    ("agent", "stack", "the agent never imports the test servers"),
    ("collector", "agent", "the collector stands on contract, never on the agent"),
    ("sim", "agent", "the simulator stands on contract, never on the agent"),
    ("sim", "collector", "the simulator never imports the collector"),
    ("contract", "agent", "contract stands on nothing of ours"),
    ("contract", "collector", "contract stands on nothing of ours"),
    ("contract", "sim", "contract stands on nothing of ours"),
    ("contract", "stack", "contract stands on nothing of ours"),
    ("collector.ingest", "collector.web", "the ingest never imports the web app"),
)
#: What the evidence engine must not reach: persistence, transport and the web app.
EVIDENCE = "collector.evidence"
EVIDENCE_FORBIDDEN = (
    "collector.ingest",
    "collector.registry",
    "collector.store",
    "collector.web",
)
#: Database, HTTP and MQTT client libraries (top-level import names).
CLIENT_LIBS = (
    "asyncpg",
    "fastapi",
    "httpx",
    "influxdb_client",
    "paho",
    "psycopg",
    "requests",
    "sqlite3",
    "starlette",
    "uvicorn",
)
#: Third-party libraries contract may use: the base dependencies (pyproject.toml), no extra.
CONTRACT_THIRD_PARTY = frozenset(
    {"cryptography", "msgspec", "pydantic", "pydantic_core", "rich", "yaml"}
)

#: What the proof files (collector.proof) may reach of ours: themselves, their parent package,
#: and contract; and which libraries must stay unloaded when it is imported.
PROOF = "collector.proof"
PROOF_MAY_REACH = ("collector.proof", "contract")
PROOF_UNLOADED = ("fastapi", "httpx", "numpy", "paho", "sqlite3", "weasyprint")

#: What the offline verifier must not reach (D8 of the issue-17 plan, docs/verify.md): every
#: server room, the agent, the simulator and the test servers.
VERIFY = "collector.verify"
VERIFY_FORBIDDEN = (
    "agent",
    "collector.broker",
    "collector.bundle",
    "collector.cli",
    "collector.dashboards",
    "collector.export",
    "collector.ingest",
    "collector.registry",
    "collector.report",
    "collector.store",
    "collector.web",
    "sim",
    "stack",
)
#: Libraries the verifier must not import: server clients, templates and renderers.
VERIFY_UNLOADED = (
    "fastapi",
    "grafana_client",
    "httpx",
    "jinja2",
    "paho",
    "psycopg",
    "sqlite3",
    "starlette",
    "uvicorn",
    "weasyprint",
)
#: POSIX-only modules, absent on Windows: our code the verifier reaches must not import them.
#: Checked in the source only: at run time the standard library itself loads some on POSIX
#: behind a platform test (subprocess: fcntl, where Windows takes msvcrt; tarfile: pwd, grp).
POSIX_ONLY = ("fcntl", "grp", "pwd", "resource", "termios")

#: Violations that still exist, each to be removed with the change that ends it.
KNOWN: frozenset[str] = frozenset()


@cache
def _edges() -> tuple[Edge, ...]:
    return tuple(collect(ROOT))


def _check(kind: str, found: dict[str, str]) -> None:
    """Fail on a violation of `kind` not in KNOWN, and on a KNOWN one no longer `found`.

    `found` maps each violation to where it is (file:line), for the message."""
    known = {entry for entry in KNOWN if entry.startswith(f"{kind}: ")}
    new = sorted(f"{entry}  ({found[entry]})" for entry in set(found) - known)
    gone = sorted(known - set(found))
    assert not new, "new import violations:\n" + "\n".join(new)
    assert not gone, "no longer occur, remove them from KNOWN:\n" + "\n".join(gone)


def test_packages_import_only_what_the_layers_allow() -> None:
    found = {
        f"rule: {edge.src} -> {edge.dst} ({why})": f"{edge.path}:{edge.line}"
        for edge in _edges()
        for importer, imported, why in RULES
        if under(edge.src, importer) and under(edge.dst, imported)
    }
    _check("rule", found)


def test_no_import_circle() -> None:
    edges = _edges()
    found = {}
    for circle in cycles(edges):
        members = set(circle)
        where = ", ".join(
            f"{edge.path}:{edge.line}" for edge in edges if {edge.src, edge.dst} <= members
        )
        found[f"circle: {' <-> '.join(circle)}"] = where
    _check("circle", found)


def _forbidden_for_evidence(module: str) -> bool:
    return any(under(module, banned) for banned in EVIDENCE_FORBIDDEN)


def test_evidence_reaches_no_persistence_module() -> None:
    """Each import by which the evidence engine, or a module it reaches, steps into the
    registry, the store, the web app or the ingest (the step's parent packages count)."""
    reached = reachable(_edges(), EVIDENCE)
    found = {
        f"evidence reaches: {edge.src} -> {edge.dst}": f"{edge.path}:{edge.line}"
        for edge in _edges()
        if edge.src in reached
        and not _forbidden_for_evidence(edge.src)
        and any(_forbidden_for_evidence(step) for step in parents(edge.dst))
    }
    _check("evidence reaches", found)


def test_evidence_imports_no_client_library() -> None:
    """No module the evidence engine reaches (short of the forbidden ones, which the test
    above reports) imports a database, HTTP or MQTT client."""
    reached = {m for m in reachable(_edges(), EVIDENCE) if not _forbidden_for_evidence(m)}
    found = {
        f"evidence imports: {use.src} -> {use.root}": f"{use.path}:{use.line}"
        for use in external_imports(ROOT)
        if use.src in reached and use.root in CLIENT_LIBS
    }
    _check("evidence imports", found)


def test_importing_the_evidence_engine_loads_no_client_library() -> None:
    """The same at run time, in a fresh interpreter."""
    code = (
        "import sys, collector.evidence\n"
        f"for name in {CLIENT_LIBS!r}:\n"
        "    if name in sys.modules: print(name)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    found = {
        f"import collector.evidence loads: {name}": "sys.modules" for name in result.stdout.split()
    }
    _check("import collector.evidence loads", found)


def test_contract_imports_only_the_standard_library_and_base_dependencies() -> None:
    """contract is installed with the agent's light extra: nothing beyond the base."""
    allowed = set(sys.stdlib_module_names) | CONTRACT_THIRD_PARTY
    extra = sorted(
        f"{use.path}:{use.line} {use.root}"
        for use in external_imports(ROOT, ("contract",))
        if use.root not in allowed
    )
    assert not extra, "contract imports beyond its base dependencies:\n" + "\n".join(extra)


def _proof_may_reach(module: str) -> bool:
    return module == "collector" or any(under(module, room) for room in PROOF_MAY_REACH)


def test_proof_reaches_only_contract() -> None:
    """Each import by which the proof files, or a module they reach, step outside themselves
    and contract (collector.registry, .store, .ingest, .web, .report, .bundle, ...)."""
    reached = reachable(_edges(), PROOF)
    found = {
        f"proof reaches: {edge.src} -> {edge.dst}": f"{edge.path}:{edge.line}"
        for edge in _edges()
        if edge.src in reached
        and _proof_may_reach(edge.src)
        and not all(_proof_may_reach(step) for step in parents(edge.dst))
    }
    _check("proof reaches", found)


def test_proof_imports_only_the_base_dependencies() -> None:
    """What the proof files reach imports only the standard library, pydantic, cryptography
    and the rest of contract's base dependencies: no HTTP, MQTT, web or PDF library."""
    reached = {m for m in reachable(_edges(), PROOF) if _proof_may_reach(m)}
    allowed = set(sys.stdlib_module_names) | CONTRACT_THIRD_PARTY
    found = {
        f"proof imports: {use.src} -> {use.root}": f"{use.path}:{use.line}"
        for use in external_imports(ROOT)
        if use.src in reached and use.root not in allowed
    }
    _check("proof imports", found)


def test_importing_the_proof_files_loads_no_server_library() -> None:
    """The same at run time, in a fresh interpreter."""
    code = (
        "import sys, collector.proof\n"
        f"for name in {PROOF_UNLOADED!r}:\n"
        "    if name in sys.modules: print(name)\n"
        "for name in sys.modules:\n"
        "    if name.startswith('collector.') and not name.startswith('collector.proof'):\n"
        "        print(name)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    found = {
        f"import collector.proof loads: {name}": "sys.modules" for name in result.stdout.split()
    }
    _check("import collector.proof loads", found)


def _forbidden_for_verify(module: str) -> bool:
    return any(under(module, banned) for banned in VERIFY_FORBIDDEN)


def test_verify_reaches_no_server_module() -> None:
    """Each import by which the verifier, or a module it reaches, steps into a server room,
    the agent, the simulator or the test servers (the step's parent packages count)."""
    reached = reachable(_edges(), VERIFY)
    found = {
        f"verify reaches: {edge.src} -> {edge.dst}": f"{edge.path}:{edge.line}"
        for edge in _edges()
        if edge.src in reached
        and not _forbidden_for_verify(edge.src)
        and any(_forbidden_for_verify(step) for step in parents(edge.dst))
    }
    _check("verify reaches", found)


def test_verify_imports_no_server_library() -> None:
    """No module of ours the verifier reaches imports a client, renderer or POSIX-only module
    (third-party libraries it reaches are judged by what they load, the test below)."""
    reached = {m for m in reachable(_edges(), VERIFY) if not _forbidden_for_verify(m)}
    found = {
        f"verify imports: {use.src} -> {use.root}": f"{use.path}:{use.line}"
        for use in external_imports(ROOT)
        if use.src in reached and use.root in (*VERIFY_UNLOADED, *POSIX_ONLY)
    }
    _check("verify imports", found)


def test_importing_the_verifier_loads_no_server_module() -> None:
    """The same at run time, in a fresh interpreter (tests/collector/verify/test_cli.py also
    runs the command under ``-X importtime``, lazy imports included)."""
    code = (
        "import sys, collector.verify.cli\n"
        f"banned = {VERIFY_UNLOADED!r} + {VERIFY_FORBIDDEN!r}\n"
        "for name in sorted(sys.modules):\n"
        "    if any(name == b or name.startswith(b + '.') for b in banned): print(name)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    found = {
        f"import collector.verify loads: {name}": "sys.modules" for name in result.stdout.split()
    }
    _check("import collector.verify loads", found)


def test_known_entries_are_of_a_kind_the_tests_check() -> None:
    kinds = (
        "rule",
        "circle",
        "evidence reaches",
        "evidence imports",
        "import collector.evidence loads",
        "proof reaches",
        "proof imports",
        "import collector.proof loads",
        "verify reaches",
        "verify imports",
        "import collector.verify loads",
    )
    strays = sorted(e for e in KNOWN if not e.startswith(tuple(f"{k}: " for k in kinds)))
    assert not strays, strays
