"""``retrofit-agent retire``: the last day of a gateway switched off for good, or of an agent id
retired at a key rotation.

A running agent seals a day once it is over (plus ``agent.seal_grace_s``), and a clean stop seals
the days already over; the day the gateway stops in is sealed by its next run. A gateway that
never runs again would leave that day unsealed for ever, and the reviewer's verifier cannot call
its enterprise's bundle verified. ``retire`` closes that: it batches every window still pending,
seals every day with windows, **the open day included, as it stands** (the seal's parts end at the
last window sent: the day-seal contract has no "final" field, and needs none), records in the
outbox that the agent is retired (in the seals' transaction), sends everything the outbox holds
and waits for the broker's acknowledgements, and, where ``delivery.confirm`` keeps batches until
the collector confirms them stored (#19), for those confirmations: a retired agent never runs
again to re-send what a broker lost. ``run`` then refuses the outbox for good
(:class:`agent.errors.AgentRetiredError`, exit 5): a window made after the last seal would
change a day the reviewer already holds as final.

It runs against a **stopped** agent's outbox, and connects to the broker itself: only a stopped
agent makes no more windows, so only then is the open day final; and the running agent would
share its MQTT client id (the broker would cut one of them off). :class:`RunLock` makes that a
rule rather than advice: ``run`` holds an exclusive lock on ``<outbox>.lock`` while it runs, and
``retire`` refuses (exit 4) when it cannot take it. Re-running ``retire`` is safe: it sends what
is left (a broker that was down) and keeps the first retirement's time.

Exit codes: 0 retired and everything acknowledged (and confirmed, where confirmations are kept
for); 1 configuration errors; 2 the configuration file cannot be read; 3 retired, but the broker
did not acknowledge, or the collector did not confirm, everything within ``--timeout`` (run
``retire`` again: it sends what is left); 4 the key or the outbox cannot be used (no outbox, or an
agent is running on it).
"""

from __future__ import annotations

import asyncio
import fcntl
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

from agent.errors import OutboxInUseError

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from agent.config import LoadedConfig
    from agent.outbox import Outbox

__all__ = [
    "EXIT_NOT_ACKED",
    "EXIT_REFUSED",
    "EXIT_RETIRED",
    "RetireReport",
    "RunLock",
    "retire_agent",
]

log = logging.getLogger(__name__)

#: ``retire``: retired, but messages were left unacknowledged (run it again).
EXIT_NOT_ACKED = 3
#: ``retire``: no outbox, an agent running on it, or the key or outbox unusable.
EXIT_REFUSED = 4
#: ``run``: the outbox's agent is retired.
EXIT_RETIRED = 5


class RunLock:
    """An exclusive lock on ``<outbox>.lock`` for as long as an agent or a retire uses the outbox.

    ``flock`` on a file of its own: the kernel drops it when the process dies (a SIGKILLed agent
    leaves no stale lock), and it is not one of SQLite's POSIX locks on the outbox file, which
    closing any other descriptor of that file would silently release.
    """

    def __init__(self, outbox_path: Path) -> None:
        self.path = outbox_path.with_name(outbox_path.name + ".lock")
        self._fd: int | None = None

    def __enter__(self) -> RunLock:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise OutboxInUseError(str(self.path.with_suffix(""))) from None
        self._fd = fd
        return self

    def __exit__(
        self,
        _type: type[BaseException] | None,
        _value: BaseException | None,
        _traceback: TracebackType | None,
    ) -> None:
        if self._fd is not None:
            os.close(self._fd)  # releases the lock
            self._fd = None


@dataclass(frozen=True, slots=True)
class RetireReport:
    """What a retire did and what it left."""

    retired_ms: int
    batches: int
    seals: int
    unsealed_days: int
    #: Messages (window batches and day seals) still in the outbox at the end: not acknowledged
    #: by the broker, or (with ``delivery.confirm`` keeping them) not confirmed stored.
    unacknowledged: int
    #: Of those, the ones the broker acknowledged and the collector has not confirmed.
    awaiting_confirmation: int = 0
    #: Whether batches were kept until the collector confirmed them (``delivery.confirm``).
    confirmed: bool = False
    #: The publisher's last error when some were left (broker refused, no subscriber ...).
    last_error: str | None = None


async def retire_agent(config_path: Path, timeout_s: float) -> RetireReport:
    """Retire the agent ``config_path`` configures: seal, record, send, wait for the acks.

    Raises ConfigError for the configuration, OutboxInUseError if an agent runs on the outbox,
    KeyFileError, OutboxError, FileNotFoundError if there is no outbox.
    """
    from agent.config import load_config
    from agent.keys import load_private_key
    from agent.outbox import Outbox

    loaded = load_config(config_path)
    config = loaded.config
    key = load_private_key(config.agent.key_path)
    path = config.agent.outbox_path
    if not path.exists():
        raise FileNotFoundError(f"no outbox at {path}: the agent never ran, nothing to seal")
    with RunLock(path):
        outbox = Outbox(
            path, capacity_windows=config.outbox_capacity(), timezone=config.agent.timezone
        )
        try:
            return await _retire(loaded, key, outbox, timeout_s)
        finally:
            outbox.close()


async def _retire(
    loaded: LoadedConfig, key: Ed25519PrivateKey, outbox: Outbox, timeout_s: float
) -> RetireReport:
    from agent.publish import publisher_for
    from contract import wire

    clock = loaded.config.make_clock()
    lock = asyncio.Lock()
    publisher = publisher_for(loaded, key, outbox, lock, clock)
    retirement = await asyncio.to_thread(
        outbox.retire,
        now=clock.timestamp(),
        batch_records=wire.MAX_RECORDS,
        make_envelope=publisher.seal_envelope,
        make_day_seal=publisher.sign_day_seal,
    )
    sending = asyncio.create_task(publisher.run(), name="publisher")
    try:
        left, awaiting = await _wait_until_sent(outbox, lock, timeout_s)
    finally:
        sending.cancel()
        await asyncio.gather(sending, return_exceptions=True)
        await publisher.close()
    return RetireReport(
        retired_ms=retirement.retired_ms,
        batches=retirement.batches,
        seals=retirement.seals,
        unsealed_days=retirement.unsealed_days,
        unacknowledged=left,
        awaiting_confirmation=awaiting,
        confirmed=publisher.delivery.state.keeping,
        last_error=publisher.state.last_error if left else None,
    )


async def _wait_until_sent(outbox: Outbox, lock: asyncio.Lock, timeout_s: float) -> tuple[int, int]:
    """Until the outbox holds no message or ``timeout_s``: the messages left, and of those the
    ones awaiting the collector's confirmation (a kept batch leaves the outbox only then)."""
    deadline = time.monotonic() + timeout_s
    while True:
        async with lock:
            stats = await asyncio.to_thread(outbox.stats)
        left = stats.sealed_batches + stats.pending_windows
        if left == 0 or time.monotonic() >= deadline:
            return left, stats.awaiting_confirmation
        await asyncio.sleep(0.1)
