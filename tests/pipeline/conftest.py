"""The pipeline, run once for the package: every test reads it or tampers with copies of its bundles
(package scope: its servers stop after the last pipeline test, not at the end of the session)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.pipeline.harness import Pipeline, running_pipeline


@pytest.fixture(scope="package")
def pipeline(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pipeline]:
    """Real agents to sealed, checked days and the platform bundles (tests/pipeline/harness.py)."""
    with running_pipeline(tmp_path_factory.mktemp("pipeline")) as running:
        yield running
