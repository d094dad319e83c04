"""The web room's layout: pages and API call the services, never each other; faces are honest.

Read from the source (ast), so an import inside a function counts as much as one at the top.
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

import collector

WEB = Path(collector.__file__).parent / "web"


def _imports(folder: Path) -> dict[str, set[str]]:
    """Each module under ``folder`` (by file name) → the modules it imports."""
    found: dict[str, set[str]] = {}
    for path in sorted(folder.rglob("*.py")):
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module is not None:
                names.add(node.module)
                names.update(f"{node.module}.{alias.name}" for alias in node.names)
        found[str(path.relative_to(WEB))] = names
    return found


@pytest.mark.parametrize(
    ("folder", "forbidden"),
    [
        ("routes/pages", "collector.web.routes.api"),
        ("routes/api", "collector.web.routes.pages"),
        ("services", "collector.web.routes"),
    ],
)
def test_routes_call_services_never_each_other(folder: str, forbidden: str) -> None:
    wrong = {
        module: sorted(n for n in names if n == forbidden or n.startswith(forbidden + "."))
        for module, names in _imports(WEB / folder).items()
    }
    assert not {module: names for module, names in wrong.items() if names}


@pytest.mark.parametrize("package", ["collector.bundle", "collector.web.services"])
def test_faces_are_sorted_and_present(package: str) -> None:
    module = importlib.import_module(package)
    names = list(module.__all__)
    assert names == sorted(names, key=lambda n: (not n.isupper(), not n[0].isupper(), n))
    for name in names:
        assert hasattr(module, name), name
        assert not name.startswith("_"), name
