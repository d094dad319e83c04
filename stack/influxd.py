"""A local InfluxDB 1.x server (Debian's influxd) for tests, bench scripts and the demo.

`InfluxServer` writes a config with its own meta/data/wal directories and both of influxd's
listeners (HTTP API and the RPC service used by backup/restore) on free loopback ports, and starts
`influxd run -config FILE`. Ready means GET /ping answers 204. The few HTTP helpers here are for
tests; the collector's store module is the real client.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal

import httpx

from stack.errors import InfluxHTTPError, StackError
from stack.ports import free_port
from stack.process import DEFAULT_STOP_GRACE_S
from stack.server import LocalServer

__all__ = ["InfluxServer", "Precision"]

#: Timestamp units of /write `precision` and /query `epoch`.
Precision = Literal["ns", "u", "ms", "s", "m", "h"]

_DEFAULT_BINARY = "/usr/bin/influxd"
_PING_TIMEOUT_S = 1.0
_REQUEST_TIMEOUT_S = 30.0

# Unknown keys are silently ignored by influxd 1.x (FIELD-NOTES), so each key below was checked
# against `influxd config` of Debian's 1.6.7, which calls the reporting switch
# `reporting-enabled`; upstream builds call it `reporting-disabled`. Both are written.
_CONFIG_TEMPLATE = """\
# Written by stack.influxd for a local test server; not a production config.
reporting-enabled = false
reporting-disabled = true
# The RPC service (backup/restore) binds 127.0.0.1:8088 by default: parallel servers collide.
bind-address = "{host}:{rpc_port}"

[meta]
  dir = "{meta_dir}"

[data]
  dir = "{data_dir}"
  wal-dir = "{wal_dir}"
  # fsync every write (the default, stated): a SIGKILLed influxd keeps what it acknowledged.
  wal-fsync-delay = "0s"
  query-log-enabled = false
{cache_options}
[monitor]
  # No _internal database: it would write every 10 s and show up in SHOW DATABASES.
  store-enabled = false

[subscriber]
  enabled = false

[continuous_queries]
  enabled = false

[http]
  enabled = true
  bind-address = "{host}:{http_port}"
  # One access-log line per request costs benchmarks; errors still reach the log.
  log-enabled = false
  pprof-enabled = false

[logging]
  format = "logfmt"
  level = "info"
  suppress-logo = true
"""


class InfluxServer(LocalServer):
    """An influxd on loopback ports, with its config, log and data under `workdir`."""

    name = "influxd"

    def __init__(
        self,
        workdir: Path,
        http_port: int | None = None,
        rpc_port: int | None = None,
        *,
        binary: Path | None = None,
        startup_timeout_s: float = 30.0,
        stop_grace_s: float = DEFAULT_STOP_GRACE_S,
        cache_snapshot_memory_size: str | None = None,
    ) -> None:
        super().__init__(
            workdir,
            ports_chosen_by_caller=http_port is not None or rpc_port is not None,
            startup_timeout_s=startup_timeout_s,
            stop_grace_s=stop_grace_s,
        )
        self._http_port = http_port if http_port is not None else free_port()
        self._rpc_port = rpc_port if rpc_port is not None else free_port()
        self.binary = binary
        #: ``[data] cache-snapshot-memory-size`` (e.g. "1m"), None for influxd's default (25m):
        #: how much of the latest writes a shard keeps in memory before writing a TSM file.
        #: Reads of recent points cost with what the cache holds of their series (benches).
        self.cache_snapshot_memory_size = cache_snapshot_memory_size
        self.config_path = self.workdir / "influxdb.conf"
        self.meta_dir = self.workdir / "meta"
        self.data_dir = self.workdir / "data"
        self.wal_dir = self.workdir / "wal"
        self._client: httpx.Client | None = None

    @property
    def http_port(self) -> int:
        """TCP port of the HTTP API on `host`."""
        return self._http_port

    @property
    def rpc_port(self) -> int:
        """TCP port of the RPC (backup/restore) service on `host`."""
        return self._rpc_port

    @property
    def url(self) -> str:
        """Base URL of the HTTP API, `http://HOST:PORT`."""
        return f"http://{self.host}:{self._http_port}"

    @property
    def log_path(self) -> Path:
        """influxd's log (it logs to stderr, appended to this file)."""
        return self.workdir / "influxd.log"

    def create_database(self, name: str) -> None:
        """CREATE DATABASE `name` (a no-op if it exists). Raises InfluxHTTPError on failure."""
        escaped = name.replace("\\", "\\\\").replace('"', '\\"')
        self._post_query({"q": f'CREATE DATABASE "{escaped}"'})

    def query(self, db: str, influxql: str, epoch: Precision | None = "ns") -> dict[str, Any]:
        """Run InfluxQL against `db` and return influxd's parsed JSON.

        Timestamps come back as integers in `epoch` units (None: RFC 3339 strings). Raises
        InfluxHTTPError on an HTTP error or when a statement reports an error.
        """
        params = {"db": db, "q": influxql}
        if epoch is not None:
            params["epoch"] = epoch
        return self._post_query(params)

    def query_rows(
        self, db: str, influxql: str, epoch: Precision | None = "ns"
    ) -> list[dict[str, Any]]:
        """Run InfluxQL and flatten every series into rows of {column: value} (plus its tags)."""
        rows: list[dict[str, Any]] = []
        for result in self.query(db, influxql, epoch).get("results", []):
            for series in result.get("series", []):
                tags = series.get("tags", {})
                for values in series.get("values", []):
                    rows.append({**tags, **dict(zip(series["columns"], values, strict=True))})
        return rows

    def write_lines(self, db: str, lines: Iterable[str], precision: Precision = "ns") -> None:
        """POST line protocol to /write. Raises InfluxHTTPError unless influxd answers 204.

        A partial write (400 "partial write ... dropped=N") is an error too (FIELD-NOTES).
        """
        body = "\n".join(lines).encode()
        url = f"{self.url}/write"
        response = self._http().post(url, params={"db": db, "precision": precision}, content=body)
        if response.status_code != 204:
            raise InfluxHTTPError(url, response.status_code, response.text)

    def _post_query(self, params: dict[str, str]) -> dict[str, Any]:
        url = f"{self.url}/query"
        # POST: influxd refuses CREATE/DROP over GET; reads work either way.
        response = self._http().post(url, data=params)
        if response.status_code != 200:
            raise InfluxHTTPError(url, response.status_code, response.text)
        parsed: dict[str, Any] = response.json()
        for result in parsed.get("results", []):
            if "error" in result:
                raise InfluxHTTPError(url, response.status_code, str(result["error"]))
        return parsed

    def _http(self) -> httpx.Client:
        if self._client is None:
            self._client = httpx.Client(timeout=_REQUEST_TIMEOUT_S)
        return self._client

    def _on_stopped(self) -> None:
        # Pooled keep-alive connections point at the old process; start afresh after a restart.
        if self._client is not None:
            self._client.close()
            self._client = None

    def _argv(self) -> list[str]:
        binary = self.binary or shutil.which("influxd") or _DEFAULT_BINARY
        if not Path(binary).is_file():
            raise StackError(f"influxd: {binary} not found; install Debian's influxdb package")
        return [str(binary), "run", "-config", str(self.config_path)]

    def _env(self) -> dict[str, str]:
        # influxd lets INFLUXDB_* variables override the config file: drop any we inherited.
        return {key: value for key, value in os.environ.items() if not key.startswith("INFLUXDB_")}

    def _write_config(self) -> None:
        for directory in (self.meta_dir, self.data_dir, self.wal_dir):
            directory.mkdir(parents=True, exist_ok=True)
        self.config_path.write_text(
            _CONFIG_TEMPLATE.format(
                host=self.host,
                http_port=self._http_port,
                rpc_port=self._rpc_port,
                meta_dir=self.meta_dir,
                data_dir=self.data_dir,
                wal_dir=self.wal_dir,
                cache_options=(
                    f'  cache-snapshot-memory-size = "{self.cache_snapshot_memory_size}"\n'
                    if self.cache_snapshot_memory_size
                    else ""
                ),
            )
        )

    def _is_ready(self) -> bool:
        if not self._process.listening_on(self.host, self._http_port):
            return False
        try:
            response = httpx.get(f"{self.url}/ping", timeout=_PING_TIMEOUT_S)
        except httpx.HTTPError:
            return False
        return response.status_code == 204

    def _choose_new_ports(self) -> None:
        self._http_port = free_port()
        self._rpc_port = free_port()
