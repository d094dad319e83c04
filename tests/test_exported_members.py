"""Each package's public face (its `__init__`'s `__all__`) is sorted, real and public.

httpx's tests/test_exported_members.py, for every package of ours that declares `__all__`:
the names in ruff's RUF022 order (CONSTANTS, then Classes, then functions), each one
importable from the package, none private (dunders such as `__version__` are metadata, not
private).
"""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

from tests.import_graph import PACKAGES

ROOT = Path(__file__).resolve().parents[1]


def _packages() -> list[str]:
    return sorted(
        ".".join(init.parent.relative_to(ROOT).parts)
        for top in PACKAGES
        for init in (ROOT / top).rglob("__init__.py")
        if "__pycache__" not in init.parts
    )


def _order(name: str) -> tuple[int, str]:
    """RUF022's isort-style order: SCREAMING_SNAKE_CASE, then CamelCase, then the rest."""
    if len(name) > 1 and name.isupper():
        return 0, name
    return (1 if name[0].isupper() else 2), name


@pytest.mark.parametrize("package", _packages())
def test_exported_members(package: str) -> None:
    module = importlib.import_module(package)
    names = getattr(module, "__all__", None)
    assert names is not None, f"{package} declares no __all__ (STYLE.md: a package shows its face)"
    assert list(names) == sorted(names, key=_order), f"{package}.__all__ is not sorted"
    assert len(set(names)) == len(names), f"{package}.__all__ names one member twice"
    missing = [name for name in names if not hasattr(module, name)]
    assert not missing, f"{package}.__all__ names what it does not have: {missing}"
    private = [
        n for n in names if n.startswith("_") and not (n.startswith("__") and n.endswith("__"))
    ]
    assert not private, f"{package}.__all__ exports private names: {private}"
