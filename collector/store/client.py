"""InfluxStore: KPI windows into InfluxDB and sums out, over the v1 HTTP API (httpx, async).

Two endpoints, served by every InfluxDB generation: ``POST /write`` (line protocol) and
``/query`` (InfluxQL). 1.x serves them natively; 2.x and 3.x serve them as their
v1-compatibility API (db/rp mapped to a bucket by a DBRP mapping on 2.x, to a database on
3.x). ``docs/storage.md`` says why this is not influxdb-client.

Every failure leaves as a :class:`collector.store.errors.StoreError` whose ``retryable`` says
whether the caller should keep its data and try again (5xx, timeouts, refused connections)
or give up on it (400 bad data and partial writes, 401/403, missing database).
"""

from __future__ import annotations

import gzip as gzip_codec
import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from types import TracebackType
from typing import Any, Self

import httpx

from collector.store.auth import InfluxAuth, request_auth
from collector.store.errors import (
    AuthFailed,
    NotFound,
    OutOfRange,
    QueryFailed,
    StoreError,
    StoreUnavailable,
    WriteRejected,
)
from collector.store.influxql import (
    EARLIEST_TIME,
    LATEST_TIME,
    is_read_only,
    measurement_path,
    quote_identifier,
    quote_literal,
    time_literal,
)
from collector.store.records import WindowRecord, window_from_row, window_line
from collector.store.retention import (
    DEFAULT_RAW_RETENTION_DAYS,
    RetentionPolicySpec,
    create_statement,
    mismatches,
)
from collector.store.rollup import (
    DailyRow,
    DayKey,
    daily_from_row,
    daily_lines,
    day_groups,
    rollup_statements,
)
from collector.store.rollup_merge import (
    StoredDay,
    Tail,
    merged_lines,
    plan_refresh,
    stored_rows,
    stored_statement,
    tail_statement,
)
from collector.store.schema import KPI_DAILY, KPI_WINDOW

__all__ = ["InfluxStore", "Refreshed", "Row"]

log = logging.getLogger(__name__)

#: A result row: the series' tags and the columns, ``time`` in ms since the epoch.
Row = dict[str, Any]

_DROPPED = re.compile(r"dropped=(\d+)")
# Longest InfluxQL sent in a GET URL; longer reads go as a POST form (proxies cap URLs).
_MAX_GET_QUERY_CHARS = 2000
# Local midnight is between UTC-12 and UTC+14 of the date's UTC midnight.
_EARLIEST_MIDNIGHT = timedelta(hours=14)
_LATEST_MIDNIGHT = timedelta(hours=12)


@dataclass(frozen=True, slots=True)
class Refreshed:
    """What a :meth:`InfluxStore.refresh_days` did: device-days merged (only their newer
    windows read) and recomputed from all their windows."""

    merged: int
    recomputed: int


class InfluxStore:
    """The collector's InfluxDB client: windows, daily rollups, retention, reads.

    ``url`` is the server's base URL (``http://host:8086``; 3.x listens on 8181 by default),
    ``database`` the 1.x database (2.x: the db of a DBRP mapping; 3.x: the database). Raw
    windows go to ``raw_retention_policy`` and rollups to ``rollup_retention_policy`` (None:
    the database's default policy). Writes go in batches of ``batch_size`` lines, gzipped if
    ``gzip``. ``timeout_s`` bounds each phase of every request (connect, send, wait, pool).
    """

    def __init__(
        self,
        url: str,
        database: str,
        *,
        auth: InfluxAuth | None = None,
        raw_retention_policy: str | None = "raw",
        rollup_retention_policy: str | None = "rollup",
        raw_retention_days: int | None = DEFAULT_RAW_RETENTION_DAYS,
        batch_size: int = 5000,
        gzip: bool = False,
        timeout_s: float = 10.0,
        statements_per_query: int = 60,
        manage_schema: bool = True,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size is {batch_size}, expected at least 1")
        self.url = url.rstrip("/")
        self.database = database
        self.raw_retention_policy = raw_retention_policy
        self.rollup_retention_policy = rollup_retention_policy
        self.raw_retention_days = raw_retention_days
        self.batch_size = batch_size
        self.gzip = gzip
        #: False when an administrator made the database and retention policies (``store init``)
        #: and this store's user may only read and write: the ``ensure_*`` calls then do nothing.
        self.manage_schema = manage_schema
        self._groups_per_query = max(1, statements_per_query // 3)
        http_auth, self._headers, self._auth_params = request_auth(auth)
        self._http = httpx.AsyncClient(auth=http_auth, timeout=httpx.Timeout(timeout_s))

    async def aclose(self) -> None:
        """Close the HTTP connections."""
        await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    # --- requests and their errors ----------------------------------------------------------

    async def _request(
        self,
        method: str,
        path: str,
        action: str,
        *,
        params: Mapping[str, str],
        content: bytes | None = None,
        data: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        url = f"{self.url}{path}"
        try:
            response = await self._http.request(
                method,
                url,
                params={**params, **self._auth_params},
                content=content,
                data=data,
                headers={**self._headers, **(headers or {})},
            )
        except httpx.TimeoutException as exc:
            raise StoreUnavailable(
                f"InfluxDB {action} at {url}: no answer in time ({type(exc).__name__}); retryable"
            ) from exc
        except httpx.TransportError as exc:
            raise StoreUnavailable(
                f"InfluxDB {action} at {url}: {type(exc).__name__}: {exc}; retryable"
            ) from exc
        if response.status_code >= 300:
            raise _error_for(response, action, url)
        return response

    async def ping(self) -> None:
        """GET /ping; raises StoreUnavailable unless InfluxDB answers 204."""
        await self._request("GET", "/ping", "ping", params={})

    async def write_lines(self, lines: Sequence[str], *, retention_policy: str | None) -> None:
        """POST line protocol (``precision=ms``) in batches of ``batch_size``.

        Raises WriteRejected (400, partial writes included), AuthFailed, NotFound or
        StoreUnavailable. Batches before a failing one were written; writing them again is
        harmless (same series, same time: overwritten).
        """
        params = {"db": self.database, "precision": "ms"}
        if retention_policy:
            params["rp"] = retention_policy
        headers = {"Content-Type": "text/plain; charset=utf-8"}
        if self.gzip:
            headers["Content-Encoding"] = "gzip"
        for first in range(0, len(lines), self.batch_size):
            batch = lines[first : first + self.batch_size]
            body = "\n".join(batch).encode("utf-8")
            if self.gzip:
                body = gzip_codec.compress(body, compresslevel=1)
            await self._request(
                "POST", "/write", "write", params=params, content=body, headers=headers
            )
            log.debug("wrote %d points to %s (rp %s)", len(batch), self.database, retention_policy)

    async def query_statements(self, influxql: str) -> list[list[Row]]:
        """Run InfluxQL (one or more ``;``-separated statements); one list of rows per statement.

        Reads (SELECT without INTO, SHOW) go as GET, anything else as POST, as InfluxDB 1.x
        requires; a long read goes as POST too. Each row holds its series' tags and columns,
        ``time`` in ms. Raises QueryFailed (a statement's error included), AuthFailed, NotFound
        or StoreUnavailable.
        """
        params = {"db": self.database, "epoch": "ms"}
        if is_read_only(influxql) and len(influxql) <= _MAX_GET_QUERY_CHARS:
            response = await self._request(
                "GET", "/query", "query", params={**params, "q": influxql}
            )
        else:
            response = await self._request(
                "POST", "/query", "query", params=params, data={"q": influxql}
            )
        return _statement_rows(response, influxql)

    async def query(self, influxql: str) -> list[Row]:
        """Run InfluxQL and return the rows of all its statements; see :meth:`query_statements`."""
        return [row for rows in await self.query_statements(influxql) for row in rows]

    # --- schema -----------------------------------------------------------------------------

    async def ensure_database(self) -> None:
        """CREATE DATABASE (idempotent). InfluxDB 1.x only: on 2.x / 3.x the bucket or
        database and its DBRP mapping must already exist (this raises there).

        Does nothing when the store does not manage the schema (``manage_schema=False``).
        """
        if self.manage_schema:
            await self.query(f"CREATE DATABASE {quote_identifier(self.database)}")

    def retention_specs(self) -> list[RetentionPolicySpec]:
        """The retention policies this store writes to, as they should be on 1.x."""
        specs = []
        if self.raw_retention_policy:
            # A week per shard group: the 1.x default for short policies and a cheap delete unit.
            specs.append(
                RetentionPolicySpec(self.raw_retention_policy, self.raw_retention_days, 7, True)
            )
        if self.rollup_retention_policy:
            # Sparse daily points: one shard group a year keeps the shard count small.
            specs.append(RetentionPolicySpec(self.rollup_retention_policy, None, 364, False))
        return specs

    async def ensure_retention(self) -> list[str]:
        """Create the raw (default) and rollup retention policies if missing; 1.x only.

        An existing policy that differs is left alone, never shortened behind the operator's
        back: each difference is logged as a warning and returned. On 2.x / 3.x set the
        retention of the buckets or databases instead (docs/storage.md). Does nothing when
        the store does not manage the schema.
        """
        if not self.manage_schema:
            return []
        rows = await self.query(f"SHOW RETENTION POLICIES ON {quote_identifier(self.database)}")
        existing = {str(row["name"]): row for row in rows}
        wanted = self.retention_specs()
        for spec in wanted:
            if spec.name not in existing:
                await self.query(create_statement(self.database, spec))
                log.info("created retention policy %s on %s", spec.name, self.database)
        problems = mismatches(wanted, existing)
        for problem in problems:
            log.warning("%s on %s; left as it is (ALTER it by hand)", problem, self.database)
        return problems

    # --- windows ----------------------------------------------------------------------------

    async def write(self, records: Sequence[WindowRecord]) -> None:
        """Write windows as ``kpi_window`` points (one per window, timestamp = its end).

        Raises WriteRejected for a window that cannot be encoded (nothing is sent then) and
        whatever :meth:`write_lines` raises.
        """
        try:
            lines = [window_line(record) for record in records]
        except ValueError as exc:
            raise WriteRejected(f"a window cannot be written as line protocol: {exc}") from exc
        await self.write_lines(lines, retention_policy=self.raw_retention_policy)

    def _path(self, measurement: str, retention_policy: str | None) -> str:
        return measurement_path(self.database, retention_policy, measurement)

    async def windows(
        self, enterprise: str, start: datetime, end: datetime, *, device: str | None = None
    ) -> list[WindowRecord]:
        """The raw windows of an enterprise (or one device) whose end is in ``(start, end]``.

        Ordered by series, then time. For checks and for recomputing from raw data; evidence
        over long periods reads :meth:`daily` instead.
        """
        where = f'"enterprise" = {quote_literal(enterprise)}'
        if device is not None:
            where += f' AND "device" = {quote_literal(device)}'
        rows = await self.query(
            # Every name and value in the text is quoted by quote_identifier / quote_literal.
            f"SELECT * FROM {self._path(KPI_WINDOW, self.raw_retention_policy)} WHERE {where} "  # noqa: S608
            f"AND time > {time_literal(start)} AND time <= {time_literal(end)}"
        )
        return [window_from_row(row) for row in rows]

    # --- daily rollups ----------------------------------------------------------------------

    async def refresh_days(
        self, keys: Iterable[DayKey], marks: Mapping[DayKey, int | None] | None = None
    ) -> Refreshed:
        """Bring exactly these device-days' rollups up to their raw windows (idempotent).

        ``marks``: for each key, the earliest window end (ms) written since the day's last
        refresh, as the ingest's dirty-days queue keeps it. A day whose stored rows end before
        its mark gets only its newer windows added (:mod:`collector.store.rollup_merge`);
        every other day, and every day without ``marks`` (the repair tool: recompute a range
        after a refresh failed), is recomputed from all its raw windows. A day with no raw
        windows writes nothing.
        """
        keys = sorted(set(keys))
        full, merged = keys, 0
        if marks:
            candidates = [key for key in keys if marks.get(key) is not None]
            plan = plan_refresh(keys, marks, await self._stored_days(candidates))
            fallback, merged = await self._merge_tails(plan.tails)
            full = sorted([*plan.full, *fallback])
        await self._recompute_days(full)
        return Refreshed(merged=merged, recomputed=len(full))

    async def _stored_days(self, keys: Sequence[DayKey]) -> dict[tuple[str, date], StoredDay]:
        """The stored ``kpi_daily`` rows of these device-days, by (enterprise, day)."""
        groups = day_groups(keys)
        source = self._path(KPI_DAILY, self.rollup_retention_policy)
        stored: dict[tuple[str, date], StoredDay] = {}
        per_query = 3 * self._groups_per_query
        for first in range(0, len(groups), per_query):
            chunk = groups[first : first + per_query]
            statements = [stored_statement(source, group) for group in chunk]
            results = await self.query_statements(";\n".join(statements))
            for group, rows in zip(chunk, results, strict=True):
                stored[(group.enterprise, group.day)] = stored_rows(rows)
        return stored

    async def _merge_tails(self, tails: Sequence[Tail]) -> tuple[list[DayKey], int]:
        """Merge each tail's newer windows into its rows; the device-days that need the full
        path after all, and how many were merged."""
        source = self._path(KPI_WINDOW, self.raw_retention_policy)
        fallback: list[DayKey] = []
        merged = 0
        per_query = 3 * self._groups_per_query
        for first in range(0, len(tails), per_query):
            chunk = tails[first : first + per_query]
            statements = [tail_statement(source, tail) for tail in chunk]
            results = await self.query_statements(";\n".join(statements))
            lines = []
            for tail, points in zip(chunk, results, strict=True):
                tail_lines, full = merged_lines(tail, points)
                lines += tail_lines
                fallback += full
                merged += len(tail.group.devices) - len(full)
            if lines:
                await self.write_lines(lines, retention_policy=self.rollup_retention_policy)
            log.debug("merged %d device-day rollup rows", len(lines))
        return fallback, merged

    async def _recompute_days(self, keys: Iterable[DayKey]) -> None:
        """Recompute these device-days from all their raw windows."""
        groups = day_groups(keys)
        source = self._path(KPI_WINDOW, self.raw_retention_policy)
        for first in range(0, len(groups), self._groups_per_query):
            chunk = groups[first : first + self._groups_per_query]
            statements = [s for group in chunk for s in rollup_statements(source, group)]
            results = await self.query_statements(";\n".join(statements))
            lines = []
            for index, group in enumerate(chunk):
                lines += daily_lines(group, results[3 * index : 3 * index + 3])
            if lines:
                await self.write_lines(lines, retention_policy=self.rollup_retention_policy)
            log.debug("refreshed %d device-day rollups", len(lines))

    async def daily(
        self, enterprise: str, start_day: date, end_day: date, *, device: str | None = None
    ) -> list[DailyRow]:
        """Daily rollups of an enterprise (or one device) for local days start_day..end_day.

        Inclusive at both ends; ordered by (device, day, agent, provenance). Each row is one
        (agent, device, provenance) series' day: sum rows over agents and provenances as the
        evidence method says.
        """
        if end_day < start_day:
            return []
        low, high = _midnights_around(start_day, end_day)
        where = f'"enterprise" = {quote_literal(enterprise)}'
        if device is not None:
            where += f' AND "device" = {quote_literal(device)}'
        rows = await self.query(
            f"SELECT * FROM {self._path(KPI_DAILY, self.rollup_retention_policy)} WHERE {where} "  # noqa: S608
            f"AND time >= {time_literal(low)} AND time <= {time_literal(high)}"
        )
        days = [daily_from_row(row) for row in rows]
        selected = [row for row in days if start_day <= row.day <= end_day]
        return sorted(selected, key=lambda r: (r.device, r.day, r.agent, r.provenance))


def _midnights_around(start_day: date, end_day: date) -> tuple[datetime, datetime]:
    """The earliest local midnight of ``start_day`` and the latest of ``end_day``, in UTC.

    The rollup's timestamp is local midnight; without the zone, take every UTC offset's
    midnight and select the days by their `day` field. Raises OutOfRange for days at the
    ends of the calendar (0001-01-01, 9999-12-31), which datetime cannot shift.
    """
    try:
        low = datetime.combine(start_day, datetime.min.time()).replace(tzinfo=UTC)
        high = datetime.combine(end_day, datetime.min.time()).replace(tzinfo=UTC)
        return low - _EARLIEST_MIDNIGHT, high + _LATEST_MIDNIGHT
    except OverflowError:
        raise OutOfRange(
            f"got the days {start_day} to {end_day}, expected days from "
            f"{EARLIEST_TIME.date()} to before {LATEST_TIME.date()} (what InfluxDB can hold); "
            "nothing was sent"
        ) from None


# --- response handling ----------------------------------------------------------------------


def _server_message(response: httpx.Response) -> str:
    """InfluxDB's own words: the JSON ``error``, else the X-Influxdb-Error header, else the body."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("error"), str):
        return str(body["error"])
    if isinstance(body, dict) and isinstance(body.get("message"), str):  # 2.x / 3.x errors
        return str(body["message"])
    header = response.headers.get("X-Influxdb-Error")
    return header or response.text.strip()[:500]


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After", "")
    try:
        return max(0.0, float(value))
    except ValueError:
        return None  # absent, or an HTTP date: the caller's own backoff decides


def _error_for(response: httpx.Response, action: str, url: str) -> StoreError:
    """The StoreError for a non-2xx answer; the message says what happens next."""
    status, said = response.status_code, _server_message(response)
    where = f"InfluxDB {action} at {url}: HTTP {status}: {said}"
    common: dict[str, Any] = {"status_code": status, "server_message": said}
    if status in (401, 403):
        return AuthFailed(
            f"{where}; not retrying: check the credentials and their rights on database "
            "(1.x user and password, 2.x/3.x token)",
            **common,
        )
    if status == 404 or "retention policy not found" in said or "database not found" in said:
        # 1.x answers a missing retention policy with 500 "retention policy not found".
        return NotFound(
            f"{where}; not retrying: create the database and retention policies first "
            "(ensure_database / ensure_retention on 1.x, bucket + DBRP mapping on 2.x)",
            **common,
        )
    if status == 429 or status >= 500:
        return StoreUnavailable(
            f"{where}; retryable", retry_after_s=_retry_after(response), **common
        )
    if action == "write":
        dropped = _DROPPED.search(said)
        return WriteRejected(
            f"{where}; not retrying: the same points would be refused again"
            + (" (lower batch_size)" if status == 413 else ""),
            dropped=int(dropped.group(1)) if dropped else None,
            **common,
        )
    return QueryFailed(f"{where}; not retrying", **common)


def _statement_rows(response: httpx.Response, influxql: str) -> list[list[Row]]:
    try:
        body = response.json()
    except ValueError as exc:
        raise StoreUnavailable(
            f"InfluxDB query: answer is not JSON ({response.text[:200]!r}); retryable"
        ) from exc
    results = body.get("results", []) if isinstance(body, dict) else []
    statements: list[list[Row]] = []
    for result in results:
        if "error" in result:
            raise QueryFailed(
                f"InfluxDB query: statement {result.get('statement_id')} failed: "
                f"{result['error']} (query: {influxql[:300]}); not retrying",
                status_code=response.status_code,
                server_message=str(result["error"]),
            )
        rows: list[Row] = []
        for series in result.get("series", []):
            tags = series.get("tags") or {}
            columns = series["columns"]
            for values in series.get("values", []):
                rows.append({**tags, **dict(zip(columns, values, strict=True))})
        statements.append(rows)
    return statements
