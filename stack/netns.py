"""Several hosts on one machine: Linux network namespaces joined by veth links to bridges.

`Hosts` builds a small network for fault tests and benchmarks. Each *segment* is a bridge in
our own (the root) namespace with its own /24 subnet, and the root takes `.1` on it, so the
test process reaches every host as an operator would. Each *host* is a named namespace
(`ip netns add`) with its own loopback; attaching it to a segment makes a veth pair, one end in
the host (`eth0`, `eth1`, ... with the next free address), the other a port of the bridge.
Servers run inside a host with `netns=hosts.netns(name)` (stack.process forks them there) and
listen on its address; nothing on a host reaches another except over these links.

    with Hosts() as hosts:
        lan, db = hosts.segment("lan"), hosts.segment("db")
        broker_ip = hosts.attach("broker", lan)
        db_ip = hosts.attach("database", db)
        hosts.cut("database", db)       # the switch port goes down: the cable pulled
        hosts.restore("database", db)

Names are unique per run (`rv` + our pid in base 36), so a crashed run never blocks the next;
`Hosts()` first removes what runs of dead processes left behind (`remove_stale`). Closing
deletes the namespaces (their veth ends go with them, and so the bridge ports) and the bridges,
also after a failed test. Needs root (CAP_NET_ADMIN and CAP_SYS_ADMIN) and iproute2's `ip`;
`unavailable_reason()` says why not, for a skip.
"""

from __future__ import annotations

import contextlib
import ctypes
import ipaddress
import logging
import os
import shutil
import subprocess
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Self

from stack.errors import StackError

__all__ = ["Hosts", "Segment", "entered", "remove_stale", "unavailable_reason"]

log = logging.getLogger(__name__)

_IP = "ip"
_NETNS_DIR = Path("/run/netns")
#: Every name we make starts with this, then our pid in base 36 (five digits), then a letter:
#: `rv0abcd-broker` (namespace), `rv0abcdb0` (bridge), `rv0abcdv3` (veth, bridge side).
_PREFIX = "rv"
_PID_DIGITS = 5
#: Subnets are 10.231.X.0/24: X is the first not already routed here (other runs, other users).
_SUBNET_BASE = (10, 231)
_IP_TIMEOUT_S = 30.0
_CLONE_NEWNET = 0x40000000  # from <sched.h>; os.setns arrives only in Python 3.12


def _base36(number: int, width: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    text = ""
    while number:
        number, rest = divmod(number, 36)
        text = digits[rest] + text
    return text.rjust(width, "0")[-width:]


def _run_tag(pid: int) -> str:
    return _PREFIX + _base36(pid, _PID_DIGITS)


def _ip(*args: str, netns: str | None = None, check: bool = True) -> str:
    """Run `ip ARGS` (inside `netns` if given) and return its stdout.

    Raises StackError with ip's message when it fails and `check` is set.
    """
    argv = [_IP, *(["-n", netns] if netns else []), *args]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=_IP_TIMEOUT_S, check=False)
    if check and done.returncode != 0:
        raise StackError(f"{' '.join(argv)}: exit {done.returncode}: {done.stderr.strip()}")
    return done.stdout


def _setns(descriptor: int, what: str) -> None:
    """setns(2) the calling thread into the network namespace open as `descriptor`."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.setns(descriptor, _CLONE_NEWNET) != 0:
        errno = ctypes.get_errno()
        raise StackError(f"cannot enter network namespace {what}: {os.strerror(errno)}")


@contextlib.contextmanager
def entered(netns: str) -> Iterator[None]:
    """Run the block with the calling thread (only it) inside network namespace `netns`.

    Sockets made in the block, and threads started in it, stay in `netns` for life (a socket
    keeps the namespace it was made in; a thread starts in its creator's). The thread goes back
    to its own namespace when the block ends. Raises StackError if `netns` does not exist.
    """
    try:
        target = os.open(_NETNS_DIR / netns, os.O_RDONLY | os.O_CLOEXEC)
    except OSError as exc:
        raise StackError(f"network namespace {netns!r}: {exc.strerror}") from exc
    home = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    try:
        _setns(target, netns)
        try:
            yield
        finally:
            # Must not fail silently: the thread would go on working inside `netns`.
            _setns(home, "the thread came from")
    finally:
        os.close(target)
        os.close(home)


def unavailable_reason() -> str | None:
    """Why namespaces cannot be made here (not root, no `ip`), or None when they can."""
    if os.geteuid() != 0:
        return "network namespaces need root (ip netns add, veth links); run as root, as CI does"
    if shutil.which(_IP) is None:
        return "iproute2's `ip` is not installed (Debian package iproute2)"
    return None


def _owner_alive(tag: str) -> bool:
    """True if the process named in the run tag still runs (and is not us)."""
    try:
        pid = int(tag[len(_PREFIX) :], 36)
    except ValueError:
        return True  # not one of ours: leave it alone
    if pid == os.getpid():
        return False  # a dead run whose pid we inherited: its leftovers are in our way
    return Path(f"/proc/{pid}").exists()


def _is_ours(name: str) -> str | None:
    """The run tag of a name we made, or None."""
    tag = name[: len(_PREFIX) + _PID_DIGITS]
    if not name.startswith(_PREFIX) or len(tag) != len(_PREFIX) + _PID_DIGITS:
        return None
    if not all(char.isdigit() or "a" <= char <= "z" for char in tag[len(_PREFIX) :]):
        return None
    return tag


def remove_stale() -> list[str]:
    """Delete the namespaces and bridges of runs whose process is gone; the names removed."""
    removed: list[str] = []
    namespaces = [line.split()[0] for line in _ip("netns", "list").splitlines() if line.strip()]
    for name in namespaces:
        tag = _is_ours(name)
        if tag is not None and name[len(tag) :].startswith("-") and not _owner_alive(tag):
            _ip("netns", "del", name, check=False)
            removed.append(name)
    # Bridges, and veth pairs a crash left in our namespace before moving one end away.
    for name in _link_names():
        tag = _is_ours(name)
        if tag is not None and not _owner_alive(tag):
            _ip("link", "del", name, check=False)
            removed.append(name)
    if removed:
        log.warning("removed leftovers of dead runs: %s", ", ".join(removed))
    return removed


def _link_names() -> list[str]:
    """Names of the links in our namespace (`eth0`, not `eth0@if5`)."""
    return [
        line.split(":")[1].strip().split("@")[0]
        for line in _ip("-o", "link", "show").splitlines()
        if line.strip()
    ]


def _used_third_octets() -> set[int]:
    """Third octets of 10.231.X.0/24 subnets already routed in our namespace."""
    used: set[int] = set()
    prefix = f"{_SUBNET_BASE[0]}.{_SUBNET_BASE[1]}."
    for line in _ip("-4", "route", "show").splitlines():
        destination = line.split()[0]
        if destination.startswith(prefix):
            used.add(int(destination.split(".")[2]))
    return used


@dataclass
class Segment:
    """One bridge (a switch) with its /24; the root namespace holds `.1` as `gateway`."""

    name: str
    bridge: str
    network: ipaddress.IPv4Network
    _next_host: int = 2

    @property
    def gateway(self) -> str:
        """Our own (the root namespace's) address on this segment."""
        return str(self.network.network_address + 1)

    def next_address(self) -> str:
        """The next free host address on the segment."""
        if self._next_host >= self.network.num_addresses - 1:
            raise StackError(f"segment {self.name}: no free address left in {self.network}")
        address = self.network.network_address + self._next_host
        self._next_host += 1
        return str(address)


@dataclass
class _Attachment:
    host: str
    segment: str
    address: str
    bridge_port: str  # our end of the veth pair, a port of the bridge
    interface: str  # its end inside the host


@dataclass
class Hosts:
    """Named hosts (network namespaces) on segments (bridges) of this machine; see the module."""

    tag: str = field(default_factory=lambda: _run_tag(os.getpid()))
    _segments: dict[str, Segment] = field(default_factory=dict)
    _hosts: dict[str, list[_Attachment]] = field(default_factory=dict)
    _veths: int = 0
    _closed: bool = False

    def __post_init__(self) -> None:
        reason = unavailable_reason()
        if reason is not None:
            raise StackError(reason)
        remove_stale()

    def netns(self, host: str) -> str:
        """The namespace name of `host` (for `netns=` of stack servers and `ip -n`)."""
        if host not in self._hosts:
            raise StackError(f"no host {host!r}; made: {sorted(self._hosts)}")
        return self._netns_name(host)

    def _netns_name(self, host: str) -> str:
        return f"{self.tag}-{host}"

    def segment(self, name: str) -> Segment:
        """Make a segment: a bridge, a fresh /24, `.1` ours. Raises StackError if none is free."""
        if name in self._segments:
            raise StackError(f"segment {name!r} exists")
        used = _used_third_octets()
        octet = next((n for n in range(256) if n not in used), None)
        if octet is None:
            raise StackError("no free 10.231.X.0/24 subnet for a segment")
        network = ipaddress.IPv4Network(f"{_SUBNET_BASE[0]}.{_SUBNET_BASE[1]}.{octet}.0/24")
        bridge = f"{self.tag}b{len(self._segments)}"
        segment = Segment(name, bridge, network)
        _ip("link", "add", bridge, "type", "bridge")
        self._segments[name] = segment
        _ip("addr", "add", f"{segment.gateway}/24", "dev", bridge)
        _ip("link", "set", bridge, "up")
        log.info("segment %s: bridge %s, %s", name, bridge, network)
        return segment

    def add_host(self, host: str) -> str:
        """Make host `host` (a namespace with its loopback up); its namespace name."""
        if host in self._hosts:
            raise StackError(f"host {host!r} exists")
        name = self._netns_name(host)
        _ip("netns", "add", name)
        self._hosts[host] = []
        _ip("link", "set", "lo", "up", netns=name)
        return name

    def attach(self, host: str, segment: Segment) -> str:
        """Link `host` (made if new) to `segment` with a veth pair; its address there."""
        if host not in self._hosts:
            self.add_host(host)
        links = self._hosts[host]
        if any(link.segment == segment.name for link in links):
            raise StackError(f"host {host!r} is already on segment {segment.name!r}")
        netns = self._netns_name(host)
        port = f"{self.tag}v{self._veths}"
        peer = f"{self.tag}p{self._veths}"
        self._veths += 1
        interface = f"eth{len(links)}"
        _ip("link", "add", port, "type", "veth", "peer", "name", peer)
        _ip("link", "set", peer, "netns", netns)
        _ip("link", "set", peer, "name", interface, netns=netns)
        address = segment.next_address()
        _ip("addr", "add", f"{address}/24", "dev", interface, netns=netns)
        _ip("link", "set", interface, "up", netns=netns)
        _ip("link", "set", port, "master", segment.bridge)
        _ip("link", "set", port, "up")
        links.append(_Attachment(host, segment.name, address, port, interface))
        log.info("host %s: %s on %s (%s)", host, address, segment.name, port)
        return address

    def address(self, host: str, segment: Segment) -> str:
        """The address of `host` on `segment`."""
        return self._link(host, segment).address

    def _link(self, host: str, segment: Segment) -> _Attachment:
        for link in self._hosts.get(host, []):
            if link.segment == segment.name:
                return link
        raise StackError(f"host {host!r} is not on segment {segment.name!r}")

    def cut(self, host: str, segment: Segment) -> None:
        """Take the bridge's port of `host` down: its link on `segment` carries nothing.

        As a pulled cable: the host keeps its address and routes and sees no error; its
        packets go nowhere, so open TCP connections hang until their own timeouts.
        """
        _ip("link", "set", self._link(host, segment).bridge_port, "down")
        log.info("host %s: link on %s cut", host, segment.name)

    def restore(self, host: str, segment: Segment) -> None:
        """Bring the bridge's port of `host` on `segment` back up."""
        _ip("link", "set", self._link(host, segment).bridge_port, "up")
        log.info("host %s: link on %s restored", host, segment.name)

    def exec_argv(self, host: str, argv: Sequence[str]) -> list[str]:
        """`argv` run inside `host` (`ip netns exec`), for commands other than stack servers."""
        return [_IP, "netns", "exec", self.netns(host), *argv]

    def close(self) -> None:
        """Delete every namespace and bridge made here; best effort, errors logged."""
        if self._closed:
            return
        self._closed = True
        for host in list(self._hosts):
            # The namespace's veth ends go with it, and so their peers, the bridge ports.
            _ip("netns", "del", self._netns_name(host), check=False)
        for segment in self._segments.values():
            _ip("link", "del", segment.bridge, check=False)
        leftovers = self._names_left()
        if leftovers:
            log.warning("still present after close: %s", ", ".join(leftovers))

    def _names_left(self) -> list[str]:
        mine = [p.name for p in _NETNS_DIR.glob(f"{self.tag}-*")] if _NETNS_DIR.is_dir() else []
        return mine + [name for name in _link_names() if name.startswith(self.tag)]

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
