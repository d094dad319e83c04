"""Fixtures for the simulator tests: a pty pair for RTU, the anyio backend."""

from __future__ import annotations

import os
import tty
from collections.abc import Iterator

import pytest


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def pty_pair() -> Iterator[tuple[int, int, str, str]]:
    """Two raw pseudo-terminals: (master_a, master_b, slave_a path, slave_b path).

    A pty master cannot be opened by path, so server and client each open a slave and
    ``tests.sim.pty.relay`` copies bytes between the masters: a null-modem cable in software.
    """
    master_a, slave_a = os.openpty()
    master_b, slave_b = os.openpty()
    for descriptor in (master_a, slave_a, master_b, slave_b):
        tty.setraw(descriptor)
    try:
        yield master_a, master_b, os.ttyname(slave_a), os.ttyname(slave_b)
    finally:
        for descriptor in (master_a, slave_a, master_b, slave_b):
            os.close(descriptor)
