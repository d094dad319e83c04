"""A software null modem: two raw pseudo-terminals whose masters are bridged, for Modbus RTU.

A pty master cannot be opened by path (``/dev/ptmx`` makes a new pair), so a serial server and
a serial client each open a slave and :func:`relay` copies bytes between the two masters from
the event loop. :class:`PtyLink` is the whole cable for ``retrofit-sim run --rtu-pty LINK``: the
simulator serves RTU on one slave and ``LINK`` is a symlink to the other, for an agent's
``serial_port``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import tty
from collections.abc import AsyncIterator
from pathlib import Path

__all__ = ["PtyLink", "relay"]

log = logging.getLogger(__name__)


def _pump(source: int, sink: int) -> None:
    with contextlib.suppress(OSError):  # the other end closed: nothing left to copy
        os.write(sink, os.read(source, 4096))


@contextlib.asynccontextmanager
async def relay(master_a: int, master_b: int) -> AsyncIterator[None]:
    """Copy bytes both ways between two pty masters from the event loop while inside."""
    loop = asyncio.get_running_loop()
    loop.add_reader(master_a, _pump, master_a, master_b)
    loop.add_reader(master_b, _pump, master_b, master_a)
    try:
        yield
    finally:
        loop.remove_reader(master_a)
        loop.remove_reader(master_b)


class PtyLink:
    """Two raw ptys bridged in the running loop; ``link`` is a symlink to the client's end.

    Both slaves stay open while the link is up: a master whose slave has no open descriptor
    reads EIO at once, which would keep the loop's reader busy.
    """

    def __init__(self, link: Path) -> None:
        self.link = link
        self._fds: list[int] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._target = ""

    def open(self) -> str:
        """Make the pair, start relaying in the running loop, point ``link`` at the client end.

        Returns the server end's path. Raises OSError when ``link`` exists and is not a
        symlink (it is never replaced) or cannot be made.
        """
        if self.link.exists() and not self.link.is_symlink():
            raise OSError(f"--rtu-pty {self.link}: exists and is not a symlink; not replacing it")
        master_a, slave_a = os.openpty()
        master_b, slave_b = os.openpty()
        self._fds = [master_a, slave_a, master_b, slave_b]
        for descriptor in self._fds:
            tty.setraw(descriptor)
        self._target = os.ttyname(slave_b)
        self.link.unlink(missing_ok=True)  # a stale link from an earlier run
        self.link.symlink_to(self._target)
        self._loop = asyncio.get_running_loop()
        self._loop.add_reader(master_a, _pump, master_a, master_b)
        self._loop.add_reader(master_b, _pump, master_b, master_a)
        log.info("rtu null modem: %s -> %s", self.link, self._target)
        return os.ttyname(slave_a)

    def close(self) -> None:
        """Stop relaying, remove the symlink (if still ours) and close the ptys."""
        if self._loop is not None and self._fds:
            self._loop.remove_reader(self._fds[0])
            self._loop.remove_reader(self._fds[2])
        if self.link.is_symlink() and str(self.link.readlink()) == self._target:
            self.link.unlink()
        for descriptor in self._fds:
            os.close(descriptor)
        self._fds = []
        self._loop = None
