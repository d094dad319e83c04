"""The pipeline, run once a session: every test reads it or tampers with copies of its bundles."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.pipeline.harness import Pipeline, running_pipeline


@pytest.fixture(scope="session")
def pipeline(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pipeline]:
    """Real agents to sealed, checked days and the platform bundles (tests/pipeline/harness.py)."""
    with running_pipeline(tmp_path_factory.mktemp("pipeline")) as running:
        yield running
