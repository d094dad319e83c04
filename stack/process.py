"""Child processes for local servers: logged to a file, in their own group, never outliving us.

`ChildProcess` starts one command with stdout and stderr appended to a log file, waits until a
probe says it is ready (or fails with the log tail and exit code), and stops it with SIGTERM, then
SIGKILL after a grace period. Linux only: the child asks the kernel for SIGKILL when its parent
dies (prctl PR_SET_PDEATHSIG), so a crashed or killed test run leaves no server behind. With
`netns=NAME` the child is forked inside the named network namespace (`/run/netns/NAME`, made by
`ip netns add` or stack.netns), as `ip netns exec` would run it, but with no process between.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import queue
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from pathlib import Path
from types import TracebackType
from typing import IO, Self

from stack.errors import ServerStartError, StackError
from stack.netns import entered

__all__ = ["DEFAULT_STOP_GRACE_S", "ChildProcess"]

log = logging.getLogger(__name__)

DEFAULT_STOP_GRACE_S = 10.0
_READY_POLL_S = 0.05
_PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>
_TAIL_READ_BYTES = 64 * 1024

Popen = subprocess.Popen[bytes]


def _die_with_parent_hook() -> Callable[[], None]:
    """Build the pre-exec hook that makes the child get SIGKILL when its parent thread ends.

    libc is loaded here, in the parent, so the forked child only makes the call.
    """
    prctl = ctypes.CDLL(None, use_errno=True).prctl
    parent_pid = os.getpid()

    def hook() -> None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        # The parent may have died between fork() and prctl(): then no signal would ever come.
        if os.getppid() != parent_pid:
            os._exit(1)

    return hook


class _Spawner:
    """Forks every child from one daemon thread that lives as long as this process.

    Why: PR_SET_PDEATHSIG fires when the *thread* that forked the child ends, not the process.
    A server started from a worker thread (asyncio.to_thread, a thread pool) would be SIGKILLed
    as soon as that worker retires. A daemon thread only ends when the process does.

    A child for a network namespace is forked while this thread (only this thread: the
    namespace is a per-thread attribute) has entered it with setns(2); the thread goes back to
    its own namespace at once, so it never holds a namespace alive after `ip netns del`.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._owner_pid = -1
        self._requests: queue.SimpleQueue[tuple[Callable[[], Popen], str | None, Future[Popen]]] = (
            queue.SimpleQueue()
        )

    def spawn(self, make: Callable[[], Popen], netns: str | None = None) -> Popen:
        """Run `make` (which calls Popen) on the spawner thread, inside `netns` if given."""
        with self._lock:
            # After os.fork() the thread is gone in the child: start a new one there.
            if self._owner_pid != os.getpid():
                self._requests = queue.SimpleQueue()
                threading.Thread(target=self._serve, name="stack-spawner", daemon=True).start()
                self._owner_pid = os.getpid()
            result: Future[Popen] = Future()
            self._requests.put((make, netns, result))
        return result.result()

    def _serve(self) -> None:
        requests = self._requests
        while True:
            make, netns, result = requests.get()
            try:
                if netns is None:
                    result.set_result(make())
                else:
                    with entered(netns):
                        result.set_result(make())
            except BaseException as exc:  # handed back to the caller's thread, never lost
                result.set_exception(exc)


_spawner = _Spawner()


class ChildProcess:
    """One command run as a child process, its output appended to `log_path`.

    The child gets its own process group (a Ctrl-C in the terminal reaches only us, and we stop
    the whole group) and SIGKILL when this process dies. Start, stop, kill and restart may be
    repeated; each start appends to the same log.
    """

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        log_path: Path,
        *,
        cwd: Path | None = None,
        env: Mapping[str, str] | None = None,
        stop_grace_s: float = DEFAULT_STOP_GRACE_S,
        credentials: tuple[int, int] | None = None,
        netns: str | None = None,
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.log_path = log_path
        self.cwd = cwd
        self.env = dict(env) if env is not None else None
        self.stop_grace_s = stop_grace_s
        #: (uid, gid) the child runs as (we must be root); None: as we run.
        self.credentials = credentials
        #: Named network namespace the child runs in; None: ours.
        self.netns = netns
        self._popen: Popen | None = None
        self._log_offset = 0

    @property
    def pid(self) -> int | None:
        """PID of the current (or last) run, None if never started."""
        return self._popen.pid if self._popen is not None else None

    @property
    def returncode(self) -> int | None:
        """Exit code of the last run (negative: killed by that signal); None while running."""
        return self._popen.poll() if self._popen is not None else None

    @property
    def is_running(self) -> bool:
        """True while the child process has not exited."""
        return self._popen is not None and self._popen.poll() is None

    def start(self) -> None:
        """Start the command. Raises StackError if it is already running or cannot be executed."""
        if self.is_running:
            raise StackError(f"{self.name}: already running as pid {self.pid}")
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log_file:
            log_file.write(f"=== stack: starting {' '.join(self.argv)} ===\n".encode())
            log_file.flush()
            self._log_offset = log_file.tell()
            try:
                self._popen = _spawner.spawn(lambda: self._popen_into(log_file), self.netns)
            except OSError as exc:
                raise StackError(f"{self.name}: cannot execute {self.argv[0]}: {exc}") from exc
        log.info("%s started as pid %d, log %s", self.name, self._popen.pid, self.log_path)

    def _popen_into(self, log_file: IO[bytes]) -> Popen:
        uid, gid = self.credentials if self.credentials is not None else (None, None)
        return subprocess.Popen(
            self.argv,
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            cwd=self.cwd,
            env=self.env,
            process_group=0,
            # Set by the forked child itself (no su/runuser between us and the server). CPython
            # changes the user before it calls the hook below, so the change cannot clear the
            # parent-death signal the hook asks for (tests/stack/test_postgres.py checks it).
            user=uid,
            group=gid,
            extra_groups=[] if uid is not None else None,
            # preexec_fn is safe here: the hook only calls prctl, and libc was loaded beforehand.
            preexec_fn=_die_with_parent_hook(),
            close_fds=True,
        )

    def wait_until_ready(self, is_ready: Callable[[], bool], timeout_s: float) -> None:
        """Poll `is_ready` until it returns True; `timeout_s` is the deadline in seconds.

        Raises ServerStartError with the log tail if the process exits first (with its exit code)
        or is still not ready at the deadline (it is then stopped).
        """
        deadline = time.monotonic() + timeout_s
        while True:
            popen = self._require_started()
            exit_code = popen.poll()
            if exit_code is not None:
                reason = f"exited with code {exit_code} before it was ready"
                raise ServerStartError(self.name, reason, exit_code, self.log_tail())
            if is_ready():
                return
            if time.monotonic() >= deadline:
                tail = self.log_tail()
                self.stop()
                reason = f"not ready after {timeout_s:g} s (was still running; stopped it)"
                raise ServerStartError(self.name, reason, None, tail)
            time.sleep(_READY_POLL_S)

    def stop(self, grace_s: float | None = None) -> None:
        """SIGTERM the process group, SIGKILL it if still alive after `grace_s` seconds, reap it."""
        popen = self._popen
        if popen is None or popen.poll() is not None:
            return
        grace = self.stop_grace_s if grace_s is None else grace_s
        self._signal_group(popen, signal.SIGTERM)
        try:
            popen.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            log.warning("%s pid %d ignored SIGTERM for %g s: SIGKILL", self.name, popen.pid, grace)
            self._signal_group(popen, signal.SIGKILL)
            popen.wait()
        log.info("%s pid %d stopped with code %s", self.name, popen.pid, popen.returncode)

    def kill(self) -> None:
        """SIGKILL the process group at once (a crash, for fault tests) and reap it."""
        popen = self._popen
        if popen is None or popen.poll() is not None:
            return
        self._signal_group(popen, signal.SIGKILL)
        popen.wait()
        log.info("%s pid %d killed", self.name, popen.pid)

    def restart(self, grace_s: float | None = None) -> None:
        """Stop (SIGTERM, then SIGKILL after the grace period) and start the same command again."""
        self.stop(grace_s)
        self.start()

    def log_tail(self, max_lines: int = 40) -> str:
        """Return the last `max_lines` lines the current (or last) run wrote to its log."""
        try:
            with self.log_path.open("rb") as log_file:
                size = log_file.seek(0, os.SEEK_END)
                log_file.seek(max(self._log_offset, size - _TAIL_READ_BYTES))
                text = log_file.read().decode(errors="replace")
        except FileNotFoundError:
            return ""
        return "\n".join(text.splitlines()[-max_lines:])

    def listening_on(self, host_ip: str, port: int) -> bool:
        """True if this process holds a listening TCP socket on host_ip:port (IPv4, Linux /proc).

        Why: a readiness probe alone cannot tell our server from another process that took the
        same port after our free-port probe; the socket's owner can.
        """
        popen = self._popen
        if popen is None or popen.poll() is not None:
            return False
        inodes = _listening_socket_inodes(popen.pid, host_ip, port)
        return bool(inodes) and not inodes.isdisjoint(_socket_inodes_of(popen.pid))

    def _require_started(self) -> Popen:
        if self._popen is None:
            raise StackError(f"{self.name}: not started")
        return self._popen

    @staticmethod
    def _signal_group(popen: Popen, signum: signal.Signals) -> None:
        # The group id is the child's pid (process_group=0). It is not reaped yet (poll() said it
        # runs), so the id cannot have been reused by another group.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(popen.pid, signum)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


def _listening_socket_inodes(pid: int, host_ip: str, port: int) -> set[str]:
    """Socket inodes of TCP sockets listening on host_ip:port in the network namespace of `pid`.

    Read from /proc/PID/net/tcp, not /proc/net/tcp (ours): a child in another namespace
    (stack.netns) has its own table.
    """
    packed = bytes(int(part) for part in host_ip.split("."))
    wanted = f"{int.from_bytes(packed, 'little'):08X}:{port:04X}"
    inodes: set[str] = set()
    try:
        lines = Path(f"/proc/{pid}/net/tcp").read_text().splitlines()[1:]  # after the header
    except FileNotFoundError:  # exited while we looked
        return inodes
    for line in lines:
        fields = line.split()
        if fields[1] == wanted and fields[3] == "0A":  # 0A = TCP_LISTEN
            inodes.add(fields[9])
    return inodes


def _socket_inodes_of(pid: int) -> set[str]:
    """Inodes of the sockets among the open file descriptors of `pid`."""
    inodes: set[str] = set()
    fd_dir = Path(f"/proc/{pid}/fd")
    try:
        fds = list(fd_dir.iterdir())
    except FileNotFoundError:
        return inodes
    for fd in fds:
        try:
            target = str(fd.readlink())
        except OSError:  # closed while we looked
            continue
        if target.startswith("socket:["):
            inodes.add(target[len("socket:[") : -1])
    return inodes
