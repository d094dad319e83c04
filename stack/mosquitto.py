"""A local mosquitto broker for tests, bench scripts and the demo.

`MosquittoServer` writes a config with one listener on a free loopback port, persistence in its
own directory, and starts Debian's mosquitto 2.0 from it. Ready means the port answers an MQTT
CONNECT with a CONNACK.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import ssl
import time
from collections.abc import Sequence
from pathlib import Path

from stack.errors import StackError
from stack.ports import free_port
from stack.process import DEFAULT_STOP_GRACE_S
from stack.server import LocalServer

__all__ = [
    "DEFAULT_AUTOSAVE_INTERVAL_S",
    "DEFAULT_MAX_QUEUED_MESSAGES",
    "MosquittoServer",
]

# mosquitto keeps its whole state in memory and persists it only as a full snapshot: on SIGTERM,
# or every autosave_interval seconds (1800 by default). A SIGKILLed (or crashed) broker loses every
# queued QoS 1 message and every session since the last snapshot (FIELD-NOTES). 1 s is the
# smallest interval (0 disables autosave); mosquitto then snapshots about every 2 s. Fault tests
# about other things call wait_for_autosave() before a SIGKILL instead of guessing how long to
# sleep; the one about this loss (tests/agent/faults/test_broker_lost_empty.py) kills a broker
# that never snapshotted, and agents with delivery.confirm get their windows stored anyway (#19).
DEFAULT_AUTOSAVE_INTERVAL_S = 1

# mosquitto's default of 1000 silently DROPS further QoS 1 messages for an offline or slow
# subscriber (one log line). Our tests hold a collector offline on purpose and benchmarks queue
# bursts, so the bound is stated and large; set 0 for unlimited.
DEFAULT_MAX_QUEUED_MESSAGES = 100_000

_DEFAULT_BINARY = "/usr/sbin/mosquitto"  # Debian puts it in sbin, often not on a user's PATH
_PROBE_TIMEOUT_S = 1.0
_AUTOSAVE_POLL_S = 0.05


class MosquittoServer(LocalServer):
    """A mosquitto broker on a loopback port, with its config, log and persistence in `workdir`.

    `extra_config` lines are appended after the `listener` line, so listener options (cafile,
    certfile, keyfile, require_certificate) apply to this listener and global ones
    (password_file, acl_file) work as usual. When they turn on TLS, pass `probe_ssl_context` so
    the readiness probe can speak TLS.
    """

    name = "mosquitto"

    def __init__(
        self,
        workdir: Path,
        port: int | None = None,
        extra_config: Sequence[str] = (),
        *,
        allow_anonymous: bool = True,
        max_queued_messages: int = DEFAULT_MAX_QUEUED_MESSAGES,
        autosave_interval_s: int = DEFAULT_AUTOSAVE_INTERVAL_S,
        probe_ssl_context: ssl.SSLContext | None = None,
        binary: Path | None = None,
        startup_timeout_s: float = 10.0,
        stop_grace_s: float = DEFAULT_STOP_GRACE_S,
    ) -> None:
        if max_queued_messages < 0:
            raise ValueError(f"max_queued_messages: got {max_queued_messages}, expected >= 0")
        if autosave_interval_s < 0:
            raise ValueError(f"autosave_interval_s: got {autosave_interval_s}, expected >= 0")
        super().__init__(
            workdir,
            ports_chosen_by_caller=port is not None,
            startup_timeout_s=startup_timeout_s,
            stop_grace_s=stop_grace_s,
        )
        self._port = port if port is not None else free_port()
        self.extra_config = list(extra_config)
        self.allow_anonymous = allow_anonymous
        self.max_queued_messages = max_queued_messages
        self.autosave_interval_s = autosave_interval_s
        self.probe_ssl_context = probe_ssl_context
        self.binary = binary
        self.config_path = self.workdir / "mosquitto.conf"
        self.persistence_dir = self.workdir / "persistence"

    @property
    def port(self) -> int:
        """TCP port of the listener on `host`."""
        return self._port

    @property
    def url(self) -> str:
        """`mqtt://HOST:PORT`, or `mqtts://` when the probe speaks TLS."""
        scheme = "mqtts" if self.probe_ssl_context is not None else "mqtt"
        return f"{scheme}://{self.host}:{self._port}"

    @property
    def log_path(self) -> Path:
        """The broker's log (log_dest stderr, appended to this file)."""
        return self.workdir / "mosquitto.log"

    @property
    def persistence_file(self) -> Path:
        """The snapshot mosquitto writes on autosave and on SIGTERM."""
        return self.persistence_dir / "mosquitto.db"

    def wait_for_autosave(self, timeout_s: float = 10.0) -> None:
        """Block until mosquitto has completed a new persistence snapshot; `timeout_s` in seconds.

        Everything the broker acknowledged before this call is then on disk and survives a
        SIGKILL. Raises StackError if autosave is disabled, the broker is down, or no snapshot
        lands before the deadline.
        """
        if self.autosave_interval_s == 0:
            raise StackError("mosquitto: wait_for_autosave() with autosave disabled")
        # mosquitto writes mosquitto.db.new and renames it over mosquitto.db: a new inode or
        # mtime means a complete snapshot taken after this call began.
        before = self._snapshot_stamp()
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if not self.is_running:
                raise StackError("mosquitto: not running, no autosave will come")
            stamp = self._snapshot_stamp()
            if stamp is not None and stamp != before:
                return
            time.sleep(_AUTOSAVE_POLL_S)
        raise StackError(f"mosquitto: no persistence snapshot within {timeout_s:g} s")

    def _snapshot_stamp(self) -> tuple[int, int] | None:
        try:
            stat = self.persistence_file.stat()
        except FileNotFoundError:
            return None
        return (stat.st_ino, stat.st_mtime_ns)

    def _argv(self) -> list[str]:
        binary = self.binary or shutil.which("mosquitto") or _DEFAULT_BINARY
        if not Path(binary).is_file():
            raise StackError(f"mosquitto: {binary} not found; install Debian's mosquitto package")
        return [str(binary), "-c", str(self.config_path)]

    def _write_config(self) -> None:
        self.persistence_dir.mkdir(parents=True, exist_ok=True)
        self.config_path.write_text("\n".join(self._config_lines()) + "\n")

    def _config_lines(self) -> list[str]:
        lines = ["# Written by stack.mosquitto for a local test broker; not a production config."]
        if os.geteuid() == 0:
            # Started as root, mosquitto drops to the `mosquitto` user and then cannot write its
            # snapshot into our root-owned work dir (FIELD-NOTES). Staying root also keeps the
            # parent-death signal, which the kernel clears on a change of user id.
            lines.append("user root")
        lines += [
            "persistence true",
            # Trailing slash: 1.x glues the file name on as is; 2.0 adds its own (// is harmless).
            f"persistence_location {self.persistence_dir}/",
            "persistence_file mosquitto.db",
            f"autosave_interval {self.autosave_interval_s}",
            "autosave_on_changes false",
            f"max_queued_messages {self.max_queued_messages}",
            # stderr is unbuffered, so nothing is lost on SIGKILL; it goes to log_path.
            "log_dest stderr",
            "log_type error",
            "log_type warning",
            "log_type notice",
            "log_type information",
            "connection_messages true",
            "log_timestamp_format %Y-%m-%dT%H:%M:%S",
            f"allow_anonymous {'true' if self.allow_anonymous else 'false'}",
            f"listener {self._port} {self.host}",
            *self.extra_config,
        ]
        return lines

    def _is_ready(self) -> bool:
        return self._process.listening_on(self.host, self._port) and _answers_connect(
            self.host, self._port, self.probe_ssl_context
        )

    def _choose_new_ports(self) -> None:
        self._port = free_port()


def _answers_connect(host: str, port: int, ssl_context: ssl.SSLContext | None) -> bool:
    """True if host:port answers an MQTT 3.1.1 CONNECT with a CONNACK (any return code).

    A refusal (bad credentials) still proves the broker is up, so the code is not checked.
    """
    client_id = f"stack-ready-probe-{os.getpid()}".encode()
    # Protocol "MQTT", level 4, clean session, keep-alive 10 s, then the client id.
    body = b"\x00\x04MQTT\x04\x02\x00\x0a" + len(client_id).to_bytes(2, "big") + client_id
    connect = b"\x10" + bytes([len(body)]) + body  # remaining length < 128: one byte
    try:
        with contextlib.ExitStack() as closing:
            sock = closing.enter_context(
                socket.create_connection((host, port), timeout=_PROBE_TIMEOUT_S)
            )
            if ssl_context is not None:
                # The TLS socket takes over the descriptor: it is the one to close.
                sock = closing.enter_context(ssl_context.wrap_socket(sock, server_hostname=host))
            sock.sendall(connect)
            connack = _recv_exactly(sock, 4)
            sock.sendall(b"\xe0\x00")  # DISCONNECT, so the broker logs a clean goodbye
    except OSError:  # refused, reset, timed out, TLS failure: not ready yet
        return False
    return connack[:2] == b"\x20\x02"


def _recv_exactly(sock: socket.socket, count: int) -> bytes:
    received = b""
    while len(received) < count:
        chunk = sock.recv(count - len(received))
        if not chunk:
            raise ConnectionResetError("closed before a full CONNACK")
        received += chunk
    return received
