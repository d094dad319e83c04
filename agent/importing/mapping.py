"""The column mapping of an import: which CSV column holds which quantity, and how to read it.

A mapping comes from a YAML file (``--mapping FILE``), from command-line options (``--map
total_count=产量 --tz Asia/Shanghai``), or both; options override the file key by key. Every
problem is reported at once, with the file line or the option it came from. ``docs/import.md``
lists every key.
"""

from __future__ import annotations

import dataclasses
import difflib
import zoneinfo
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, ValidationError, field_validator, model_validator

from agent.config.root import AgentConfig
from agent.config.tags import MachineState, StateKey
from agent.importing.errors import ImportFileError, MappingError
from agent.importing.table import is_text_encoding
from contract.configfile.issues import validation_issues
from contract.configfile.types import ConfigModel, IssueList, describe_value, float_range, problem
from contract.configfile.yamlload import parse_yaml, read_config_text
from contract.errors import ConfigError

__all__ = [
    "DURATION_UNITS",
    "INTERVAL_DURATIONS",
    "SAMPLE_TARGETS",
    "Duration",
    "ImportMapping",
    "Shape",
    "build_mapping",
    "parse_duration_target",
    "parse_pairs",
]

Shape = Literal["samples", "intervals"]

#: Targets of a ``samples`` import (one row per time, like a historian's samples).
SAMPLE_TARGETS: Mapping[str, str] = {
    "time": "date and time of the sample (required)",
    "state": "machine state code, mapped to a state by the device's state_map",
    "total_count": "cumulative parts counter reading",
    "good_count": "cumulative good parts counter reading",
    "reject_count": "cumulative rejects counter reading",
    "energy_kwh": "cumulative energy meter reading, kWh",
    "power_kw": "power, kW (integrated over time)",
}
#: Count and energy targets of an ``intervals`` import (amounts within each row's interval).
INTERVAL_AMOUNTS: Mapping[str, str] = {
    "total_count": "parts produced in the interval",
    "good_count": "good parts in the interval",
    "reject_count": "rejected parts in the interval",
    "energy_kwh": "energy used in the interval, kWh",
}
#: Durations of an ``intervals`` import; each is written with its unit, e.g. ``run_min``.
INTERVAL_DURATIONS = ("run", "idle", "down", "off", "planned_stop", "planned")
#: Units a duration column may be in, and seconds per unit.
DURATION_UNITS: Mapping[str, float] = {"s": 1.0, "min": 60.0, "h": 3600.0}
#: Most columns one mapping may name.
MAX_MAPPED_COLUMNS = 32


@dataclass(frozen=True, slots=True)
class Duration:
    """A duration target: the quantity (``run``) and seconds per unit of its column."""

    quantity: str
    seconds_per_unit: float


def parse_duration_target(target: str) -> Duration | None:
    """``run_min`` as Duration("run", 60.0); None if ``target`` is not a duration target."""
    # Longest first, so planned_stop_min is not read as planned + "stop_min".
    for quantity in sorted(INTERVAL_DURATIONS, key=len, reverse=True):
        unit = target.removeprefix(quantity + "_") if target.startswith(quantity + "_") else None
        if unit is not None and unit in DURATION_UNITS:
            return Duration(quantity, DURATION_UNITS[unit])
    return None


def _interval_targets_text() -> str:
    durations = ", ".join(f"{name}_s|_min|_h" for name in INTERVAL_DURATIONS)
    return f"start, end, {', '.join(INTERVAL_AMOUNTS)}, {durations}"


def _time_zone(value: str) -> str:
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise problem(
            f"got {describe_value(value)}, expected an IANA time zone name such as 'Asia/Shanghai'"
        ) from None
    return value


class ImportMapping(ConfigModel):
    """How to read one CSV export: its shape, columns, time, text encoding and filters."""

    shape: Shape = "samples"
    #: Target quantity -> CSV column header, e.g. ``{"time": "采集时间", "total_count": "产量"}``.
    columns: Annotated[dict[str, str], Field(min_length=1)]
    timezone: str | None = None
    #: A ``strptime`` format, or ``epoch_s`` / ``epoch_ms``; None tries common formats.
    time_format: str | None = None
    encoding: str = "auto"
    delimiter: str | None = None
    header_row: Annotated[int, Field(ge=1, le=1000)] = 1
    #: Raw state value -> state; replaces the device's state_map (for MES texts such as 运行).
    state_map: dict[StateKey, MachineState] | None = None
    #: Keep only rows whose column equals the value (one machine of a plant-wide export).
    where: dict[str, str] = Field(default_factory=dict)
    #: Longest gap between samples that still holds the last state; default in docs/import.md.
    max_gap_s: Annotated[float, float_range(0, 86_400, "s", low_open=True)] | None = None
    #: Window length for a samples import; default: the agent's window_s.
    window_s: int | None = None

    @field_validator("timezone")
    @classmethod
    def _check_zone(cls, value: str | None) -> str | None:
        return None if value is None else _time_zone(value)

    @field_validator("encoding")
    @classmethod
    def _check_encoding(cls, value: str) -> str:
        if value != "auto" and not is_text_encoding(value):
            raise problem(
                f"got {describe_value(value)}, expected auto or a text encoding such as "
                "utf-8, utf-8-sig, gb18030, utf-16"
            )
        return value

    @field_validator("delimiter")
    @classmethod
    def _check_delimiter(cls, value: str | None) -> str | None:
        if value is None:
            return None
        named = {"tab": "\t", "\\t": "\t", "comma": ",", "semicolon": ";", "pipe": "|"}
        value = named.get(value, value)
        if len(value) != 1 or value in '"\r\n':
            raise problem(
                f"got {describe_value(value)}, expected one character such as , ; | or tab"
            )
        return value

    @field_validator("window_s")
    @classmethod
    def _check_window(cls, value: int | None) -> int | None:
        if value is not None and (not 10 <= value <= 86_400 or 86_400 % value):
            raise problem(f"got {value}, expected 10..86400 s dividing a day (e.g. 60, 900, 3600)")
        return value

    @model_validator(mode="after")
    def _check_targets(self) -> ImportMapping:
        issues = IssueList("ImportMapping")
        if self.shape == "samples":
            self._sample_issues(issues)
        else:
            self._interval_issues(issues)
        if len(self.columns) > MAX_MAPPED_COLUMNS:
            issues.add(("columns",), len(self.columns), f"expected at most {MAX_MAPPED_COLUMNS}")
        for target, column in self.columns.items():
            if not column.strip():
                issues.add(("columns", target), column, "got an empty column name")
        issues.raise_if_any()
        return self

    def _sample_issues(self, issues: IssueList) -> None:
        for target in self.columns:
            if target not in SAMPLE_TARGETS:
                issues.add(
                    ("columns", target),
                    target,
                    "unknown target for shape samples; expected one of "
                    + ", ".join(SAMPLE_TARGETS),
                )
        if "time" not in self.columns:
            issues.add(("columns", "time"), None, "missing, required for shape samples")
        elif len(self.columns) == 1:
            issues.add(("columns",), None, "only time is mapped; expected at least one quantity")
        if "energy_kwh" in self.columns and "power_kw" in self.columns:
            issues.add(
                ("columns", "power_kw"),
                None,
                "not allowed together with energy_kwh: energy comes from one source",
            )

    def _interval_issues(self, issues: IssueList) -> None:
        seen: dict[str, str] = {}
        for target in self.columns:
            duration = parse_duration_target(target)
            if duration is not None:
                if duration.quantity in seen:
                    issues.add(
                        ("columns", target),
                        target,
                        f"{duration.quantity} is already mapped as {seen[duration.quantity]}",
                    )
                seen[duration.quantity] = target
            elif target not in INTERVAL_AMOUNTS and target not in ("start", "end"):
                issues.add(
                    ("columns", target),
                    target,
                    "unknown target for shape intervals; expected one of "
                    + _interval_targets_text(),
                )
        for required in ("start", "end"):
            if required not in self.columns:
                issues.add(("columns", required), None, "missing, required for shape intervals")
        if self.max_gap_s is not None:
            issues.add(("max_gap_s",), self.max_gap_s, "only for shape samples")
        if self.window_s is not None:
            issues.add(("window_s",), self.window_s, "only for shape samples (rows are windows)")

    def durations(self) -> dict[str, tuple[str, Duration]]:
        """Mapped duration quantities: quantity -> (target such as ``run_min``, its unit)."""
        found = {}
        for target in self.columns:
            duration = parse_duration_target(target)
            if duration is not None:
                found[duration.quantity] = (target, duration)
        return found


# --- building a mapping from a file and options -------------------------------------------

#: The command-line option each mapping key comes from, for messages.
_OPTION_OF = {
    "shape": "--shape",
    "columns": "--map",
    "timezone": "--tz",
    "time_format": "--time-format",
    "encoding": "--encoding",
    "delimiter": "--delimiter",
    "header_row": "--header-row",
    "where": "--where",
    "max_gap_s": "--max-gap-s",
    "window_s": "--window-s",
}


def parse_pairs(values: Sequence[str], option: str) -> tuple[dict[str, str], list[str]]:
    """``["a=b", ...]`` as a dict, and a message per malformed or repeated pair."""
    pairs: dict[str, str] = {}
    issues = []
    for value in values:
        key, sep, rest = value.partition("=")
        key, rest = key.strip(), rest.strip()
        if not sep or not key or not rest:
            issues.append(f"{option} {value!r}: expected NAME=VALUE, e.g. {option} time=采集时间")
        elif key in pairs:
            issues.append(f"{option} {value!r}: {key} is given twice")
        else:
            pairs[key] = rest
    return pairs, issues


def build_mapping(
    mapping_file: Path | None,
    column_pairs: Sequence[str] = (),
    where_pairs: Sequence[str] = (),
    **options: Any,
) -> ImportMapping:
    """The mapping from an optional YAML file overridden by command-line values.

    ``options`` are mapping keys (``shape``, ``timezone``, ...); None means "not given".
    Raises ImportFileError if the file cannot be read, MappingError listing every problem.
    """
    data: dict[str, Any] = {}
    lines: dict[tuple[str | int, ...], int] = {}
    source = str(mapping_file) if mapping_file is not None else "command line"
    if mapping_file is not None:
        data, lines = _read_mapping_file(mapping_file)
    columns, issues = parse_pairs(column_pairs, "--map")
    where, where_issues = parse_pairs(where_pairs, "--where")
    issues += where_issues
    from_options: set[str] = set()
    if columns:
        file_columns = data.get("columns")
        data["columns"] = {**(file_columns if isinstance(file_columns, dict) else {}), **columns}
        from_options.add("columns")
    if where:
        file_where = data.get("where")
        data["where"] = {**(file_where if isinstance(file_where, dict) else {}), **where}
        from_options.add("where")
    for key, value in options.items():
        if value is not None:
            data[key] = value
            from_options.add(key)
    try:
        mapping = ImportMapping.model_validate(data)
    except ValidationError as exc:
        issues += _mapping_issues(exc, data, lines, source, from_options)
        raise MappingError(issues) from None
    if issues:
        raise MappingError(issues)
    return mapping


def _read_mapping_file(path: Path) -> tuple[dict[str, Any], dict[tuple[str | int, ...], int]]:
    try:
        text = read_config_text(path)
        marked = parse_yaml(text, str(path))
    except ConfigError as exc:
        raise ImportFileError("\n".join(str(issue) for issue in exc.issues)) from None
    if marked.issues:
        raise MappingError([str(issue) for issue in marked.issues])
    if not isinstance(marked.data, dict):
        raise MappingError([f"{path}: got {describe_value(marked.data)}, expected a mapping"])
    return dict(marked.data), dict(marked.lines)


def _unknown_key(key: str) -> str:
    known = list(ImportMapping.model_fields)
    close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return f"unknown key{hint} (expected one of: {', '.join(known)})"


def _mapping_issues(
    exc: ValidationError,
    data: dict[str, Any],
    lines: dict[tuple[str | int, ...], int],
    source: str,
    from_options: set[str],
) -> list[str]:
    from contract.configfile.yamlload import MarkedData

    marked = MarkedData(data, lines)
    found = []
    for issue in validation_issues(exc, marked, source, root=AgentConfig):
        top = issue.path.split(".")[0].split("[")[0]
        if issue.message.startswith("unknown key"):  # the generic hint lists agent.yaml's keys
            issue = dataclasses.replace(issue, message=_unknown_key(top))
        if top in from_options or source == "command line":
            option = _OPTION_OF.get(top, top)
            sub = issue.path[len(top) :].lstrip(".")
            sub = sub.removeprefix("[").removesuffix("]").strip("'")
            where = f"{option} {sub}" if sub else option
            found.append(f"{where}: {issue.message}")
        else:
            found.append(str(issue))
    return found or [f"{source}: {exc}"]
