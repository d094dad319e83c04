"""The forged plant the verifier's tests share: built once a session, tampered only in copies."""

from __future__ import annotations

from pathlib import Path

import pytest

from .forge import ENTERPRISES, Forge, copy_bundle, forge_plant


@pytest.fixture(scope="session")
def forge(tmp_path_factory: pytest.TempPathFactory) -> Forge:
    """Two enterprises sealed and bundled honestly (tests/collector/verify/forge.py)."""
    return forge_plant(tmp_path_factory.mktemp("forge"))


@pytest.fixture
def bundle(forge: Forge, tmp_path: Path) -> Path:
    """A copy of the first enterprise's honest bundle, for a test to tamper with."""
    return copy_bundle(forge, ENTERPRISES[0], tmp_path / ENTERPRISES[0])
