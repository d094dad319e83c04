"""Quarantine log lines: a few per reason, then one summary, with every message accounted for."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable

import pytest

from collector.ingest.quarantine_log import QuarantineLog

LOGGER = logging.getLogger("tests.quarantine_log")


class FakeTime:
    """A clock the test moves, and the callbacks scheduled on it (run when their time comes)."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.pending: list[tuple[float, Callable[[], None]]] = []

    def schedule(self, delay_s: float, callback: Callable[[], None]) -> None:
        self.pending.append((self.now + delay_s, callback))

    def advance(self, seconds: float) -> None:
        self.now += seconds
        due = [(at, cb) for at, cb in self.pending if at <= self.now]
        self.pending = [(at, cb) for at, cb in self.pending if at > self.now]
        for _, callback in due:
            callback()


def held_back(messages: list[str]) -> int:
    """The messages summed into summary lines."""
    return sum(
        int(match.group(1).replace(",", ""))
        for text in messages
        if (match := re.match(r"quarantine: ([\d,]+) more messages", text))
    )


@pytest.fixture
def clock() -> FakeTime:
    return FakeTime()


def quarantine_log(clock: FakeTime) -> QuarantineLog:
    return QuarantineLog(LOGGER, clock.schedule, burst=3, every_s=60.0, clock=lambda: clock.now)


def warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]


def test_a_flood_gets_a_few_lines_per_reason_then_one_summary(
    clock: FakeTime, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, LOGGER.name)
    quarantined = quarantine_log(clock)
    for n in range(1000):
        quarantined.quarantined("rv/v1/p/e/a/windows", "bad_signature", f"message {n}")
    quarantined.quarantined("rv/v1/p/e/a/windows", "not_json", "once")
    lines = warnings(caplog)
    assert len(lines) == 4  # 3 bad_signature, 1 not_json: a rare reason still shows at once
    assert lines[-1].endswith("not_json: once")
    debug = [r for r in caplog.records if r.levelno == logging.DEBUG]
    assert len(debug) == 997  # every message held back still has its line at DEBUG

    clock.advance(59.0)
    assert len(warnings(caplog)) == 4
    clock.advance(1.0)  # the interval ends: one summary of what was held back
    lines = warnings(caplog)
    assert len(lines) == 5
    assert "997 more messages in the last 60 s" in lines[-1]
    assert "bad_signature 997" in lines[-1]
    assert "every one is kept" in lines[-1]


def test_every_message_is_either_logged_or_summed(
    clock: FakeTime, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, LOGGER.name)
    quarantined = quarantine_log(clock)
    sent = 0
    for step in range(300):  # 5 minutes of messages, 1 s apart, three reasons
        for code in ("replay", "invalid", "too_large")[: step % 3 + 1]:
            quarantined.quarantined("t", code, "d")
            sent += 1
        clock.advance(1.0)
    quarantined.summarise()  # at shutdown: what is held back is still told
    lines = warnings(caplog)
    individual = [text for text in lines if text.startswith("quarantined a message")]
    assert len(individual) + held_back(lines) == sent
    assert len(individual) <= 3 * 3 * 6  # burst x reasons x intervals (5 and a partial one)


def test_a_late_summary_is_written_by_the_next_message(
    clock: FakeTime, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, LOGGER.name)
    quarantined = quarantine_log(clock)
    for _ in range(5):
        quarantined.quarantined("t", "invalid", "d")
    clock.now += 120  # the loop was too busy to run the scheduled summary
    quarantined.quarantined("t", "invalid", "d")
    lines = warnings(caplog)
    assert held_back(lines) == 2
    assert lines[-1].startswith("quarantined a message")  # the new interval logs again
    clock.advance(0)  # the stale scheduled summary runs: nothing more to say
    assert warnings(caplog) == lines


def test_nonsense_limits_are_refused(clock: FakeTime) -> None:
    with pytest.raises(ValueError, match="burst"):
        QuarantineLog(LOGGER, clock.schedule, burst=-1)
    with pytest.raises(ValueError, match="every_s"):
        QuarantineLog(LOGGER, clock.schedule, every_s=0)
