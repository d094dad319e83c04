"""``dashboards check``: run every panel's query against a real InfluxDB and say which are empty.

Grafana cannot run here, so this does what Grafana would do before it draws a panel: it fills
the template variables with values found in the data (running the variables' own queries), sets
the time range to the span of the data the dashboard reads, replaces ``$timeFilter`` and
``$__interval`` as Grafana's InfluxQL datasource does, and runs each query. A panel passes when
every one of its queries returns at least one row with a value; an annotation the same way. A
panel that lists problems (sealed-and-different device-days) says what it shows when there are
none in Grafana's own ``fieldConfig.defaults.noValue``: its queries must still run without an
error, and no rows is then its good state (reported with rows 0 and that text). That a query
of such a panel finds the rows when there are some is the dashboards tests' job.

Variables are tried in order, *All* first where a variable allows it, then each value (at most
``max_assignments`` combinations): a panel that needs, say, an enterprise with flags passes if
one enterprise in the data has them, and the report says which values it used.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from collector.dashboards.files import DashboardFile, QuerySpec, Variable
from collector.store import InfluxStore, QueryFailed, Row
from collector.store.influxql import quote_identifier

__all__ = [
    "ALL",
    "CheckResult",
    "TimeRange",
    "check_dashboard",
    "grafana_regex_escape",
    "interpolate",
    "nice_interval_ms",
]

log = logging.getLogger(__name__)

#: Grafana's marker for the *All* option of a variable.
ALL = "$__all"
_REFERENCE = re.compile(r"\$\{(\w+)(?::\w+)?\}|\[\[(\w+)\]\]|\$(\w+)")
_FROM = re.compile(r'\bFROM\s+((?:"(?:[^"\\]|\\.)*"|\w+)(?:\.(?:"(?:[^"\\]|\\.)*"|\w*))*)', re.I)
# Grafana's escapeRegex (public/app/core/utils/kbn): what it escapes in a variable's values.
_REGEX_SPECIAL = re.compile(r"[\\^$*+?.()|\[\]{}/]")
_INTERVALS_MS = [
    n * 1000 for n in (1, 5, 10, 15, 30, 60, 300, 600, 900, 1800, 3600, 10800, 21600, 43200, 86400)
] + [7 * 86_400_000, 30 * 86_400_000]
#: Grafana divides the range into about this many points for $__interval (a wide panel).
_MAX_DATA_POINTS = 1000


@dataclass(frozen=True, slots=True)
class TimeRange:
    """The dashboard's time range, ms since the epoch, both ends included."""

    start_ms: int
    end_ms: int

    def describe(self) -> str:
        """The range as ISO UTC times."""
        start = dt.datetime.fromtimestamp(self.start_ms / 1000, dt.UTC)
        end = dt.datetime.fromtimestamp(self.end_ms / 1000, dt.UTC)
        return f"{start:%Y-%m-%d %H:%M} .. {end:%Y-%m-%d %H:%M} UTC"


@dataclass(frozen=True, slots=True)
class CheckResult:
    """One panel, annotation or variable: whether it returned data, and how."""

    dashboard: str
    item: str  # "panel 'X'", "annotation 'Y'" or "variable 'z'"
    rows: int
    values: Mapping[str, str] = field(default_factory=dict)
    problem: str | None = None

    @property
    def ok(self) -> bool:
        """True when every query of the item returned data without an error."""
        return self.problem is None


def grafana_regex_escape(value: str) -> str:
    """A value escaped as Grafana escapes a multi-value variable inside ``/.../``."""
    return _REGEX_SPECIAL.sub(lambda m: "\\" + m.group(0), value)


def nice_interval_ms(time_range: TimeRange) -> int:
    """Grafana's ``$__interval`` for a wide panel: range / ~1000 points, rounded up to a step."""
    raw = max(1, (time_range.end_ms - time_range.start_ms) // _MAX_DATA_POINTS)
    return next((step for step in _INTERVALS_MS if step >= raw), _INTERVALS_MS[-1])


def _interval_text(ms: int) -> str:
    for unit, size in (("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1000)):
        if ms % size == 0:
            return f"{ms // size}{unit}"
    return f"{ms}ms"


def _format_value(variable: Variable, value: str, known: list[str]) -> str:
    if value == ALL:
        if variable.all_value is not None:
            return variable.all_value
        return "(" + "|".join(grafana_regex_escape(v) for v in known) + ")"
    if variable.multi or variable.include_all:
        return grafana_regex_escape(value)
    return value


def interpolate(
    text: str,
    time_range: TimeRange,
    variables: Mapping[str, Variable],
    values: Mapping[str, str],
    known_values: Mapping[str, list[str]],
) -> str:
    """``text`` with ``$timeFilter``, ``$__interval(_ms)`` and the variables filled in.

    KeyError names a variable the dashboard does not define (Grafana would leave it in and
    InfluxDB would refuse the query).
    """
    interval_ms = nice_interval_ms(time_range)
    builtins = {
        "timeFilter": f"time >= {time_range.start_ms}ms and time <= {time_range.end_ms}ms",
        "__interval": _interval_text(interval_ms),
        "__interval_ms": str(interval_ms),
    }

    def replace(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2) or match.group(3)
        if name in builtins:
            return builtins[name]
        if name not in values:
            raise KeyError(name)
        return _format_value(variables[name], values[name], known_values.get(name, []))

    return _REFERENCE.sub(replace, text)


def _has_value(row: Row) -> bool:
    return any(value is not None for key, value in row.items() if key != "time")


def _measurements(text: str) -> set[str]:
    return {m.group(1) for m in _FROM.finditer(text)}


class _Runner:
    """Runs InfluxQL through the store, once per distinct text."""

    def __init__(self, store: InfluxStore) -> None:
        self.store = store
        self._cache: dict[str, list[Row]] = {}

    async def rows(self, influxql: str) -> list[Row]:
        if influxql not in self._cache:
            self._cache[influxql] = await self.store.query(influxql)
        return self._cache[influxql]


async def data_time_range(runner: _Runner, dashboard: DashboardFile) -> TimeRange | None:
    """The span of the data the dashboard's time-filtered queries read, or None if none."""
    measurements = sorted(
        {m for q in dashboard.queries if "$timeFilter" in q.text for m in _measurements(q.text)}
    )
    firsts, lasts = [], []
    for path in measurements:
        try:
            keys = await runner.rows(f"SHOW FIELD KEYS FROM {path}")
            if not keys:
                continue
            column = quote_identifier(str(keys[0]["fieldKey"]))
            first = await runner.rows(f"SELECT FIRST({column}) FROM {path}")  # noqa: S608
            last = await runner.rows(f"SELECT LAST({column}) FROM {path}")  # noqa: S608
        except QueryFailed as exc:
            log.warning("time range: %s: %s", path, exc)
            continue
        firsts += [int(row["time"]) for row in first]
        lasts += [int(row["time"]) for row in last]
    if not firsts:
        return None
    return TimeRange(min(firsts), max(lasts))


async def _variable_values(runner: _Runner, variable: Variable, query: str) -> list[str]:
    if variable.kind == "custom":
        first = variable.current or (variable.options[0] if variable.options else "")
        return [first] if first else []
    if variable.kind in ("constant", "textbox"):
        return [variable.current or variable.query]
    rows = await runner.rows(query)
    # SHOW TAG VALUES answers (key, value); any other query: its first non-time column.
    values = []
    for row in rows:
        value = (
            row.get("value")
            if "value" in row
            else next((v for k, v in row.items() if k != "time"), None)
        )
        if value is not None and str(value) not in values:
            values.append(str(value))
    return values


class _Assignments:
    """Variable values to try, in order: defaults (All, else the first value) first."""

    def __init__(
        self, runner: _Runner, dashboard: DashboardFile, time_range: TimeRange, limit: int
    ) -> None:
        self.runner = runner
        self.variables = [v for v in dashboard.variables if v.kind != "datasource"]
        self.by_name = {v.name: v for v in dashboard.variables}
        self.time_range = time_range
        self.limit = limit
        self.problems: dict[str, str] = {}
        self.known: dict[str, list[str]] = {}

    async def all(self) -> list[dict[str, str]]:
        found: list[dict[str, str]] = []
        await self._extend({}, 0, found)
        return found

    async def _extend(
        self, values: dict[str, str], index: int, found: list[dict[str, str]]
    ) -> None:
        if len(found) >= self.limit:
            return
        if index == len(self.variables):
            found.append(dict(values))
            return
        variable = self.variables[index]
        try:
            query = interpolate(variable.query, self.time_range, self.by_name, values, self.known)
            options = await _variable_values(self.runner, variable, query)
        except (KeyError, QueryFailed) as exc:
            self.problems.setdefault(variable.name, f"its query failed: {exc}")
            return
        if not options:
            self.problems.setdefault(variable.name, f"its query returned no values: {query}")
            return
        self.known[variable.name] = options
        candidates = ([ALL] if variable.include_all else []) + options
        for value in candidates:
            await self._extend({**values, variable.name: value}, index + 1, found)


def _group(dashboard: DashboardFile) -> dict[str, list[QuerySpec]]:
    grouped: dict[str, list[QuerySpec]] = {}
    for spec in dashboard.queries:
        kind = "annotation" if spec.where.startswith("annotation") else "panel"
        grouped.setdefault(f"{kind} {spec.panel!r}", []).append(spec)
    return grouped


async def _check_item(
    runner: _Runner,
    specs: list[QuerySpec],
    assignments: list[dict[str, str]],
    time_range: TimeRange,
    dashboard: DashboardFile,
    known: Mapping[str, list[str]],
) -> tuple[int, dict[str, str], str | None]:
    """(rows, the values that gave data, problem) for one panel's queries."""
    by_name = {v.name: v for v in dashboard.variables}
    last_problem = "no data for any variable values tried"
    for values in assignments:
        total, empty = 0, None
        for spec in specs:
            try:
                text = interpolate(spec.text, time_range, by_name, values, known)
                rows = [row for row in await runner.rows(text) if _has_value(row)]
            except KeyError as exc:
                return 0, values, f"{spec.where}: unknown variable ${exc.args[0]}"
            except QueryFailed as exc:
                return 0, values, f"{spec.where}: {exc}"
            if not rows:
                empty = f"{spec.where} returned no data"
                break
            total += len(rows)
        if empty is None:
            return total, values, None
        last_problem = empty + " for any variable values tried"
    if assignments and all(spec.no_value for spec in specs):
        return 0, {}, None  # a problem list with no problems: Grafana shows its noValue
    return 0, {}, last_problem


async def check_dashboard(
    store: InfluxStore, dashboard: DashboardFile, *, max_assignments: int = 64
) -> tuple[TimeRange | None, list[CheckResult]]:
    """Check every variable, panel and annotation of one dashboard against ``store``.

    Returns the time range used and one result per item. Raises StoreError (other than a
    refused query, which is reported per panel) when InfluxDB cannot be used.
    """
    runner = _Runner(store)
    time_range = await data_time_range(runner, dashboard)
    results: list[CheckResult] = []
    if time_range is None:
        for item in _group(dashboard):
            results.append(CheckResult(dashboard.title, item, 0, {}, "no data in its measurements"))
        return None, results
    chooser = _Assignments(runner, dashboard, time_range, max_assignments)
    assignments = await chooser.all()
    if not assignments:  # a variable with no value in one branch is fine if another has one
        for name, why in chooser.problems.items():
            results.append(CheckResult(dashboard.title, f"variable {name!r}", 0, {}, why))
    for item, specs in _group(dashboard).items():
        rows, values, problem = await _check_item(
            runner, specs, assignments, time_range, dashboard, chooser.known
        )
        results.append(CheckResult(dashboard.title, item, rows, values, problem))
    return time_range, results
