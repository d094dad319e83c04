"""stack.ports: every port handed out is free and none is handed out twice."""

from __future__ import annotations

import socket

from stack import LOOPBACK_HOST, free_port, free_ports


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
