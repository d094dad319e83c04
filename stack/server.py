"""The common life cycle of a local server: config file, child process, readiness, restart.

`LocalServer` is what tests, bench scripts and the demo hold: `start()`, `stop()`, `kill()`,
`restart()`, and `with server:`. Subclasses (MosquittoServer, InfluxServer) write their config,
name their command line and say when they are ready. Each listens on `host` (127.0.0.1 by
default); after `on_host(address, netns)` it runs inside that network namespace and listens on
that address (stack.netns: a host of its own, reached over a veth link).
"""

from __future__ import annotations

import abc
import logging
from pathlib import Path
from types import TracebackType
from typing import Self

from stack.errors import ServerStartError, StackError
from stack.ports import LOOPBACK_HOST
from stack.process import DEFAULT_STOP_GRACE_S, ChildProcess

__all__ = ["LocalServer"]

log = logging.getLogger(__name__)

# Another process can take an automatically chosen port between our probe and the server's bind;
# a fresh set of ports almost always wins the second time.
_PORT_ATTEMPTS = 3


class LocalServer(abc.ABC):
    """A server binary run from a config file in its own work directory, on loopback ports.

    Ports and data directories are fixed after the first successful start, so `restart()` and
    `kill()` + `start()` bring back the same server with the same data (as fault tests need).
    """

    #: Short name for logs and errors ("mosquitto", "influxd").
    name: str = "server"

    def __init__(
        self,
        workdir: Path,
        *,
        ports_chosen_by_caller: bool,
        startup_timeout_s: float,
        stop_grace_s: float = DEFAULT_STOP_GRACE_S,
    ) -> None:
        self.workdir = Path(workdir).resolve()
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.startup_timeout_s = startup_timeout_s
        self.stop_grace_s = stop_grace_s
        #: The address it listens on; with `netns`, one of that namespace's (see `on_host`).
        self.host = LOOPBACK_HOST
        #: Named network namespace the server runs in (stack.netns); None: ours.
        self.netns: str | None = None
        self._ports_chosen_by_caller = ports_chosen_by_caller
        self._started_once = False
        self._child: ChildProcess | None = None

    @property
    def _process(self) -> ChildProcess:
        # Built on first use, so subclasses may set their paths after calling __init__.
        if self._child is None:
            self._child = ChildProcess(
                self.name,
                self._argv(),
                self.log_path,
                cwd=self._cwd(),
                env=self._env(),
                stop_grace_s=self.stop_grace_s,
                credentials=self._credentials(),
                netns=self.netns,
            )
        return self._child

    def on_host(self, host: str, netns: str) -> Self:
        """Run inside network namespace `netns` (a host of stack.netns), listening on its
        address `host`; name the ports too (each host has its own). Before the first start;
        raises StackError after it."""
        if self._child is not None:
            raise StackError(f"{self.name}: on_host() after the server was started")
        self.host, self.netns = host, netns
        return self

    @property
    @abc.abstractmethod
    def log_path(self) -> Path:
        """File the server's stdout and stderr are appended to."""

    @abc.abstractmethod
    def _argv(self) -> list[str]:
        """Command line that runs the server from its config file."""

    @abc.abstractmethod
    def _write_config(self) -> None:
        """Write the config file (and create data directories) for the current ports."""

    @abc.abstractmethod
    def _is_ready(self) -> bool:
        """True once the server answers its protocol on its own port."""

    @abc.abstractmethod
    def _choose_new_ports(self) -> None:
        """Replace automatically chosen ports after another process took one of them."""

    def _env(self) -> dict[str, str] | None:
        """Environment for the child; None inherits ours."""
        return None

    def _cwd(self) -> Path:
        """Working directory of the child (the work directory unless it cannot enter it)."""
        return self.workdir

    def _credentials(self) -> tuple[int, int] | None:
        """(uid, gid) to run the child as; None runs it as we run."""
        return None

    def _on_stopped(self) -> None:  # noqa: B027 - optional hook, empty by default
        """Release client resources that pointed at the stopped process."""

    @property
    def pid(self) -> int | None:
        """PID of the running (or last) server process, None if never started."""
        return self._child.pid if self._child is not None else None

    @property
    def returncode(self) -> int | None:
        """Exit code of the last run (negative: killed by that signal); None while running."""
        return self._child.returncode if self._child is not None else None

    @property
    def is_running(self) -> bool:
        """True while the server process is alive."""
        return self._child is not None and self._child.is_running

    def start(self) -> None:
        """Start the server and wait until it answers.

        Raises ServerStartError (with the log tail and exit code) if it dies or does not answer
        within `startup_timeout_s`; StackError if it is already running.
        """
        retry_ports = not (self._ports_chosen_by_caller or self._started_once)
        attempts = _PORT_ATTEMPTS if retry_ports else 1
        for attempt in range(1, attempts + 1):
            self._write_config()
            try:
                self._process.start()
                self._process.wait_until_ready(self._is_ready, self.startup_timeout_s)
            except ServerStartError as exc:
                if attempt == attempts or not exc.address_in_use:
                    raise
                log.warning("%s: a port was taken by another process; retrying", self.name)
                self._choose_new_ports()
                continue
            self._started_once = True
            return

    def stop(self, grace_s: float | None = None) -> None:
        """Stop with SIGTERM (a clean shutdown), SIGKILL after `grace_s` seconds; no-op if down."""
        self._on_stopped()
        if self._child is not None:
            self._child.stop(grace_s)

    def kill(self) -> None:
        """SIGKILL the server at once, as a crash would; no-op if it is not running."""
        self._on_stopped()
        if self._child is not None:
            self._child.kill()

    def restart(self) -> None:
        """Stop cleanly and start again on the same ports with the same data directories."""
        if not self._started_once:
            raise StackError(f"{self.name}: restart() before a successful start()")
        self.stop()
        self.start()

    def log_tail(self, max_lines: int = 40) -> str:
        """Last `max_lines` lines of the current (or last) run's log."""
        return self._child.log_tail(max_lines) if self._child is not None else ""

    def __enter__(self) -> Self:
        if not self.is_running:
            self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
