"""stack.ports: every port handed out is free and none is handed out twice."""

from __future__ import annotations

import socket
from pathlib import Path

from stack import LOOPBACK_HOST, free_port, free_ports
from stack.ports import EPHEMERAL_RANGE_FILE, LOWEST_PORT, MIN_SPAN, listening_span


def test_ports_are_distinct_and_bindable() -> None:
    ports = free_ports(50)
    assert len(set(ports)) == len(ports)
    for port in ports:
        with socket.socket() as sock:
            sock.bind((LOOPBACK_HOST, port))


def test_a_port_is_never_handed_out_twice() -> None:
    first = free_port()
    # The kernel is free to offer `first` again now that the probe socket is closed; we are not.
    later = {free_port() for _ in range(200)}
    assert first not in later


def test_ports_come_from_below_the_ephemeral_range() -> None:
    # A port in the ephemeral range can become any outgoing connection's source port between
    # our probe and the server's bind (a CI run lost an agent's metrics port so, twice).
    span = listening_span()
    assert span is not None, "this machine's kernel leaves ports below its ephemeral range"
    first_ephemeral = int(EPHEMERAL_RANGE_FILE.read_text(encoding="ascii").split()[0])
    for port in free_ports(50):
        assert LOWEST_PORT <= port < first_ephemeral


def test_the_span_falls_back_to_the_kernel_when_unknown_or_too_small(tmp_path: Path) -> None:
    missing = tmp_path / "absent"
    assert listening_span(missing) is None
    narrow = tmp_path / "narrow"
    narrow.write_text(f"{LOWEST_PORT + MIN_SPAN - 1}\t60999\n", encoding="ascii")
    assert listening_span(narrow) is None
    wide = tmp_path / "wide"
    wide.write_text("32768\t60999\n", encoding="ascii")
    assert listening_span(wide) == range(LOWEST_PORT, 32768)
    garbled = tmp_path / "garbled"
    garbled.write_text("many\n", encoding="ascii")
    assert listening_span(garbled) is None
