"""paho's network loop driven by the asyncio event loop: no thread of paho's (#20, B.3 option 1).

As paho's own ``examples/loop_asyncio.py``: the event loop watches paho's socket and calls
``loop_read`` when it is readable and ``loop_write`` while paho has bytes queued, and a task
calls ``loop_misc`` every second (keepalive pings, a broker gone silent). Messages reach the
replica in the loop thread itself: no lock, no hand-off and no wake-up of another thread, and
a PUBACK leaves by a direct ``send`` from the coroutine that releases it.

What ``loop_start`` did besides, done here:

- Reconnect: paho reconnects by itself only in its own thread. :meth:`PahoOnLoop.run` calls
  ``reconnect()`` again after a lost link, waiting 1 s, doubling up to 10 s while attempts
  fail, back to 1 s once a connection was accepted (paho's ``reconnect_delay_set(1, 10)``).
  ``reconnect()`` blocks (TCP connect, TLS handshake) up to paho's connect timeout, so it runs
  in a worker thread; nothing else touches the client meanwhile (:attr:`PahoOnLoop.linked`
  is False: the replica sends no acknowledgement, the broker delivers those messages again).
- TLS: bytes that the SSL object has already decrypted do not make the socket readable, so a
  read goes on while ``pending()`` says some are left (the stall of paho issue #151).

One ``loop_read`` reads one packet. A readable socket is read up to ``burst`` packets in a
row while each brings a message, so a burst of PUBLISHes costs one turn of the event loop,
not one each; the read that finds nothing costs one failed ``recv``.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import paho.mqtt.client as mqtt

__all__ = ["PahoOnLoop"]

log = logging.getLogger("collector.ingest")  # the package's one name (see __init__)

MIN_DELAY_S = 1.0
MAX_DELAY_S = 10.0
MISC_EVERY_S = 1.0


class PahoOnLoop:
    """Runs ``client``'s network I/O in the running event loop; :meth:`run` until cancelled.

    The replica counts each message its ``on_message`` receives in :attr:`messages` (the read
    burst goes on while they come) and calls :meth:`flush` after queueing packets of its own
    (acknowledgements): a packet paho could not write at once is written when the socket is.
    """

    def __init__(self, client: mqtt.Client, burst: int) -> None:
        self._client = client
        self._burst = max(1, burst)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._sock: Any = None  # paho's SocketLike, while the event loop watches it
        self._writing = False
        self._lost = asyncio.Event()
        self._delay_s = MIN_DELAY_S
        self._was_accepted = False
        #: Messages delivered to ``on_message``, counted by the replica.
        self.messages = 0
        client.on_socket_close = self._closed

    @property
    def linked(self) -> bool:
        """True while the socket is open and watched: packets may be sent."""
        return self._sock is not None

    async def run(self) -> None:
        """Connect, read and write while linked, reconnect with back-off; until cancelled."""
        self._loop = asyncio.get_running_loop()
        misc = asyncio.create_task(self._misc(), name="mqtt-misc")
        try:
            while True:
                if await self._connect():
                    await self._lost.wait()
                    if self._was_accepted:
                        self._delay_s = MIN_DELAY_S
                await asyncio.sleep(self._delay_s)
                self._delay_s = min(2 * self._delay_s, MAX_DELAY_S)
        finally:
            misc.cancel()
            await asyncio.gather(misc, return_exceptions=True)

    async def _connect(self) -> bool:
        """One attempt: TCP (and TLS) connect and CONNECT sent; True when now watched."""
        self._lost.clear()
        self._was_accepted = False
        attempt = asyncio.ensure_future(asyncio.to_thread(self._client.reconnect))
        try:
            await asyncio.shield(attempt)
        except asyncio.CancelledError:
            # Stopping: let the attempt end before anyone (disconnect) uses the client again.
            await asyncio.wait({attempt})
            raise
        except OSError as exc:  # refused, unreachable, timed out, TLS handshake failed
            log.debug("broker connection attempt failed: %s", exc)
            return False
        sock = self._client.socket()
        if sock is None:  # closed already while sending CONNECT
            return False
        self._sock = sock
        asyncio.get_running_loop().add_reader(sock, self._readable)
        self.flush()
        return True

    def _readable(self) -> None:
        client, sock = self._client, self._sock
        pending = getattr(sock, "pending", None)  # an SSL socket's decrypted, unread bytes
        reads = 0
        while True:
            before = self.messages
            if client.loop_read() or client.socket() is not sock:
                return  # lost: paho closed the socket (see _closed)
            reads += 1
            if pending is not None and pending() > 0:
                continue
            if self.messages == before or reads >= self._burst:
                break
        self.flush()

    def _writable(self) -> None:
        self._client.loop_write()
        self.flush()

    def flush(self) -> None:
        """Watch for writability while paho has bytes queued, and only then."""
        sock, loop = self._sock, self._loop
        if sock is None or loop is None:
            return
        wanted = self._client.want_write()
        if wanted and not self._writing:
            loop.add_writer(sock, self._writable)
        elif not wanted and self._writing:
            loop.remove_writer(sock)
        self._writing = wanted

    def _closed(self, client: mqtt.Client, _userdata: Any, sock: Any) -> None:
        # paho's on_socket_close, in the loop thread for every socket watched: a read or a
        # write that failed, a keepalive gone unanswered, our DISCONNECT written.
        if sock is not self._sock or self._loop is None:
            return  # never watched (closed within a failed attempt, in its worker thread)
        # The state is still paho's connected one when an accepted link breaks.
        self._was_accepted = client.is_connected()
        self._loop.remove_reader(sock)
        if self._writing:
            self._loop.remove_writer(sock)
        self._sock, self._writing = None, False
        self._lost.set()

    async def _misc(self) -> None:
        while True:
            await asyncio.sleep(MISC_EVERY_S)
            if self._sock is not None:
                self._client.loop_misc()
                self.flush()
