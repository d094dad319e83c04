"""Fixtures of the multi-host tests: the site on namespace hosts, skipped only without root."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from stack.netns import unavailable_reason
from tests.collector.hosts.site import Site, central_site


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    """Five hosts (fleet, broker, two collectors, database) with their servers running."""
    reason = unavailable_reason()
    if reason is not None:
        pytest.skip(reason)
    with central_site(tmp_path) as made:
        yield made
