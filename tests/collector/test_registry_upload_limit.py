"""The upload rate limit's counters in the registry, on both backends: counted per key with
its own limit, held back past it, shared by whoever opens the same registry, and kept apart
from the failed-login counters that share the table."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from collector.registry import Registry, ThrottleLimits

T0 = dt.datetime(2026, 6, 1, 8, 0, tzinfo=dt.UTC)
HOUR = 3600


def _limits(user: int, source: int) -> dict[str, ThrottleLimits]:
    return {
        "upload:user:eng-a": ThrottleLimits(user, HOUR, HOUR),
        "upload:addr:203.0.113.9": ThrottleLimits(source, HOUR, HOUR),
    }


def _at(seconds: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


def test_uploads_are_held_back_at_the_limit_until_the_window_has_passed(
    registry_location: Path | str,
) -> None:
    with Registry(registry_location) as one, Registry(registry_location) as other:
        # Two registries on one store: two web replicas counting the same uploads.
        assert one.take_upload(_limits(3, 10), now=_at(0)) == {}
        assert other.take_upload(_limits(3, 10), now=_at(10)) == {}
        assert one.take_upload(_limits(3, 10), now=_at(20)) == {}  # the third: allowed, holds
        held = other.take_upload(_limits(3, 10), now=_at(30))
        assert held == {"upload:user:eng-a": _at(20 + HOUR)}
        # Held back is not counted: the source has 3 of its 10, still.
        assert one.take_upload(_limits(3, 10), now=_at(20 + HOUR - 1)) != {}
        assert one.take_upload(_limits(3, 10), now=_at(20 + HOUR)) == {}


def test_the_source_limit_holds_every_user_at_that_address(registry_location: Path | str) -> None:
    with Registry(registry_location) as registry:
        for number in range(2):
            rules = {
                f"upload:user:u{number}": ThrottleLimits(100, HOUR, HOUR),
                "upload:addr:198.51.100.0/64": ThrottleLimits(2, HOUR, HOUR),
            }
            assert registry.take_upload(rules, now=_at(number)) == {}
        third = {
            "upload:user:u3": ThrottleLimits(100, HOUR, HOUR),
            "upload:addr:198.51.100.0/64": ThrottleLimits(2, HOUR, HOUR),
        }
        assert list(registry.take_upload(third, now=_at(5))) == ["upload:addr:198.51.100.0/64"]


def test_login_failures_do_not_sweep_upload_counts(registry_location: Path | str) -> None:
    with Registry(registry_location) as registry:
        assert registry.take_upload(_limits(2, 10), now=_at(0)) == {}
        # A failed login 10 minutes later sweeps rows older than its 5-minute window...
        registry.record_login_failure(
            ["addr:192.0.2.1"], limits=ThrottleLimits(10, 300, 300), subject="login:x",
            detail={}, now=_at(600),
        )  # fmt: skip
        # ...but not the upload count: the second upload still reaches the limit of 2.
        assert registry.take_upload(_limits(2, 10), now=_at(700)) == {}
        assert registry.take_upload(_limits(2, 10), now=_at(800)) != {}


def test_upload_keys_carry_their_prefix(registry_location: Path | str) -> None:
    with Registry(registry_location) as registry, pytest.raises(ValueError, match="upload:"):
        registry.take_upload({"addr:192.0.2.1": ThrottleLimits(1, HOUR, HOUR)})
