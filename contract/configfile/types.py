"""Scalar types of the configuration: identifiers, ranges, host names, paths, times of day.

Each type validates with a message of the form ``got X, expected Y``, so that the loader can put
file, line and key path in front of it and the installer knows what to write instead.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import re
from pathlib import Path
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, ValidationInfo
from pydantic_core import InitErrorDetails, PydanticCustomError, ValidationError

from contract.wire import IDENTIFIER_PATTERN

__all__ = [
    "Address",
    "ConfigModel",
    "ConfigPath",
    "Hostname",
    "Identifier",
    "IssueList",
    "Port",
    "TimeOfDay",
    "describe_value",
    "float_range",
    "int_range",
    "problem",
]

_IDENTIFIER_RE = re.compile(IDENTIFIER_PATTERN)
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOSTNAME_RE = re.compile(rf"^(?=.{{1,253}}$){_LABEL}(?:\.{_LABEL})*\.?$")
_TIME_RE = re.compile(r"^([01]?\d|2[0-4]):([0-5]\d)(?::([0-5]\d))?$")
_MAX_SHOWN = 60


class ConfigModel(BaseModel):
    """Base of every configuration model: unknown keys are errors, instances are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


def describe_value(value: object) -> str:
    """Show a configuration value the way the user wrote it, shortened for one-line messages."""
    if value is None:
        return "null (an empty value)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        shown = value if len(value) <= _MAX_SHOWN else value[:_MAX_SHOWN] + "..."
        return repr(shown)
    if isinstance(value, dict):
        return "a mapping" if value else "an empty mapping"
    if isinstance(value, list | tuple):
        return "a list" if value else "an empty list"
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    shown = str(value)
    return shown if len(shown) <= _MAX_SHOWN else shown[:_MAX_SHOWN] + "..."


def problem(message: str) -> PydanticCustomError:
    """A validation error whose message is already complete (no pydantic template fields)."""
    return PydanticCustomError("config", message)


class IssueList:
    """Collects a model's cross-field problems, to raise them all at once, each at its key."""

    def __init__(self, title: str) -> None:
        self._title = title
        self._details: list[InitErrorDetails] = []

    def add(self, loc: tuple[str | int, ...], given: object, message: str) -> None:
        """Record a problem at ``loc`` (relative to the model being validated)."""
        self._details.append(InitErrorDetails(type=problem(message), loc=loc, input=given))

    def locations(self) -> list[tuple[str | int, ...]]:
        """Locations already recorded, so a rule reached twice reports its key only once."""
        return [tuple(detail.get("loc", ())) for detail in self._details]

    def raise_if_any(self) -> None:
        """Raise one ValidationError holding every recorded problem, if there is any.

        pydantic turns a ValidationError raised inside a validator into line errors under the
        validated model's own location, so each problem keeps its precise key path.
        """
        if self._details:
            raise ValidationError.from_exception_data(self._title, self._details)


def _identifier(value: str) -> str:
    if not _IDENTIFIER_RE.fullmatch(value):
        raise problem(
            f"got {describe_value(value)}, expected 1 to 64 characters from A-Z a-z 0-9 . _ - "
            "starting with a letter or digit (ids become MQTT topic levels and InfluxDB tags)"
        )
    return value


#: Agent, platform, enterprise, device, tag and shift names.
Identifier = Annotated[str, AfterValidator(_identifier)]


def int_range(low: int, high: int, unit: str = "") -> AfterValidator:
    """A validator accepting integers in ``low..high`` (inclusive)."""
    suffix = f" {unit}" if unit else ""

    def check(value: int) -> int:
        if not low <= value <= high:
            raise problem(f"got {value}, expected {low}..{high}{suffix}")
        return value

    return AfterValidator(check)


def float_range(
    low: float, high: float, unit: str = "", *, low_open: bool = False
) -> AfterValidator:
    """A validator accepting numbers in ``low..high``; ``low_open`` excludes ``low`` itself."""
    suffix = f" {unit}" if unit else ""
    expected = f"more than {low:g} and at most {high:g}" if low_open else f"{low:g}..{high:g}"

    def check(value: float) -> float:
        too_low = value <= low if low_open else value < low
        if too_low or value > high:
            raise problem(f"got {value:g}, expected {expected}{suffix}")
        return value

    return AfterValidator(check)


Port = Annotated[int, int_range(1, 65535)]
Address = Annotated[int, int_range(0, 65535)]


def _hostname(value: str) -> str:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        if not _HOSTNAME_RE.fullmatch(value):
            raise problem(
                f"got {describe_value(value)}, expected a host name or an IP address "
                "(no scheme, port or path)"
            ) from None
    return value


Hostname = Annotated[str, AfterValidator(_hostname)]


def _config_path(value: Path, info: ValidationInfo) -> Path:
    # Relative paths are taken from the config file's directory, not the process's working
    # directory: a systemd unit and an installer's shell start in different places.
    if str(value) in ("", "."):
        raise problem("got an empty path, expected a file path")
    context: Any = info.context
    base_dir = context.get("base_dir") if isinstance(context, dict) else None
    if isinstance(base_dir, Path) and not value.is_absolute():
        return base_dir / value
    return value


#: A file path; relative paths are resolved against the configuration file's directory.
ConfigPath = Annotated[Path, AfterValidator(_config_path)]


def _time_of_day(value: object) -> object:
    if isinstance(value, dt.time):
        return value
    if not isinstance(value, str):
        hint = " (quote it, e.g. '08:00')" if isinstance(value, int | float) else ""
        raise problem(f"got {describe_value(value)}, expected a time of day 'HH:MM'{hint}")
    match = _TIME_RE.fullmatch(value.strip())
    if match is None or (match.group(1) == "24" and value.strip() not in ("24:00", "24:00:00")):
        raise problem(f"got {describe_value(value)}, expected a time of day 00:00..24:00 'HH:MM'")
    hours, minutes, seconds = int(match.group(1)), int(match.group(2)), int(match.group(3) or 0)
    # 24:00 is the midnight that ends a day; as a datetime.time it is 00:00, and a span whose
    # end is not after its start runs through midnight, which gives the same instant.
    return dt.time(hours % 24, minutes, seconds)


#: A local time of day written ``HH:MM`` or ``HH:MM:SS``; ``24:00`` means the end of the day.
TimeOfDay = Annotated[dt.time, BeforeValidator(_time_of_day)]
