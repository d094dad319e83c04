"""A software null-modem: bytes copied between two pty masters, for Modbus RTU tests."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator


@contextlib.asynccontextmanager
async def relay(master_a: int, master_b: int) -> AsyncIterator[None]:
    """Copy bytes both ways between two pty masters from the event loop while inside."""
    loop = asyncio.get_running_loop()

    def pump(source: int, sink: int) -> None:
        with contextlib.suppress(OSError):  # the other end closed: nothing left to copy
            os.write(sink, os.read(source, 4096))

    loop.add_reader(master_a, pump, master_a, master_b)
    loop.add_reader(master_b, pump, master_b, master_a)
    try:
        yield
    finally:
        loop.remove_reader(master_a)
        loop.remove_reader(master_b)
