"""A minimal MQTT v5 QoS 1 publisher over one plain socket, for benches that stand in for agents.

The ingest bench publishes thousands of ~12 kB envelopes on the same 2-core machine as the
collector; through paho each publish cost ~150-250 us of Python (packet building, locks, its
network thread), which in production runs on the gateways, not beside the collector. This
client builds each PUBLISH packet in one concatenation and writes it with ``sendall``; a thread
reads the PUBACKs. It honours the broker's Receive Maximum from CONNACK (mosquitto 2.0
disconnects a client that exceeds it) and nothing else: no TLS, no reconnects, no QoS 2.
The broker sees exactly what it sees from paho: QoS 1 PUBLISH, PUBACK.
"""

from __future__ import annotations

import socket
import struct
import threading
import time

__all__ = ["RawPublisher"]

_CONNECT, _CONNACK, _PUBLISH_QOS1, _PUBACK, _DISCONNECT = 0x10, 0x20, 0x32, 0x40, 0xE0
_RECEIVE_MAXIMUM = 0x21  # CONNACK property: 2-byte integer


def _varint(value: int) -> bytes:
    """MQTT's variable byte integer (remaining length, property length)."""
    out = bytearray()
    while True:
        byte, value = value % 128, value // 128
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _text(value: str) -> bytes:
    raw = value.encode("utf-8")
    return struct.pack("!H", len(raw)) + raw


class RawPublisher:
    """QoS 1 publishes on one connection; :meth:`wait_acked` waits for every PUBACK.

    Raises ConnectionError if the broker refuses the connection or closes it.
    """

    def __init__(self, host: str, port: int, client_id: str, timeout_s: float = 10.0) -> None:
        self._sock = socket.create_connection((host, port), timeout=timeout_s)
        self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        # Protocol "MQTT" v5, flags: clean start; keep alive 0 (off); no properties.
        variable = _text("MQTT") + bytes([5, 0x02]) + struct.pack("!H", 0) + _varint(0)
        body = variable + _text(client_id)
        self._sock.sendall(bytes([_CONNECT]) + _varint(len(body)) + body)
        kind, packet = self._read_packet()
        if kind != _CONNACK or packet[1] != 0:
            raise ConnectionError(f"broker refused the connection: {packet[:2].hex()}")
        self._window = threading.Semaphore(_receive_maximum(packet))
        self._next_id = 0
        self._sent = 0
        self.acked = 0
        self._acked_all = threading.Condition()
        self._error: Exception | None = None
        self._sock.settimeout(None)
        self._reader = threading.Thread(target=self._read_acks, name="raw-mqtt-acks", daemon=True)
        self._reader.start()

    def _read_exactly(self, count: int) -> bytes:
        chunks, missing = [], count
        while missing:
            chunk = self._sock.recv(missing)
            if not chunk:
                raise ConnectionError("broker closed the connection")
            chunks.append(chunk)
            missing -= len(chunk)
        return b"".join(chunks)

    def _read_packet(self) -> tuple[int, bytes]:
        kind = self._read_exactly(1)[0] & 0xF0
        length, shift = 0, 0
        while True:
            byte = self._read_exactly(1)[0]
            length += (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                return kind, self._read_exactly(length)

    def _read_acks(self) -> None:
        try:
            while True:
                kind, _ = self._read_packet()
                if kind == _PUBACK:
                    self._window.release()
                    with self._acked_all:
                        self.acked += 1
                        self._acked_all.notify_all()
        except (ConnectionError, OSError) as exc:
            self._error = exc
            with self._acked_all:
                self._acked_all.notify_all()

    def publish(self, topic: str, payload: bytes) -> None:
        """Send one QoS 1 PUBLISH; blocks while the broker's Receive Maximum is in flight."""
        if self._error is not None:
            raise ConnectionError(f"publisher connection lost: {self._error}")
        self._window.acquire()
        self._next_id = self._next_id % 0xFFFF + 1  # ids 1..65535; far fewer are in flight
        head = _text(topic) + struct.pack("!H", self._next_id) + _varint(0)  # no properties
        self._sock.sendall(
            bytes([_PUBLISH_QOS1]) + _varint(len(head) + len(payload)) + head + payload
        )
        self._sent += 1

    def wait_acked(self, timeout_s: float = 60.0) -> None:
        """Until every publish so far is acknowledged; ConnectionError if it is not in time."""
        deadline = time.monotonic() + timeout_s
        with self._acked_all:
            while self.acked < self._sent and self._error is None:
                if not self._acked_all.wait(max(0.0, deadline - time.monotonic())):
                    break
        if self.acked < self._sent:
            raise ConnectionError(f"{self._sent - self.acked} publishes not acknowledged")

    def close(self) -> None:
        """Wait for the PUBACKs, DISCONNECT, close the socket."""
        try:
            self.wait_acked()
            self._sock.sendall(bytes([_DISCONNECT, 0]))
        finally:
            self._sock.close()


def _receive_maximum(connack: bytes) -> int:
    """The broker's Receive Maximum from a CONNACK body (65,535 when it sends none)."""
    length, shift, position = 0, 0, 2
    while True:
        byte = connack[position]
        position += 1
        length += (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            break
    end = position + length
    while position < end:
        identifier = connack[position]
        position += 1
        if identifier == _RECEIVE_MAXIMUM:
            return int(struct.unpack_from("!H", connack, position)[0])
        position += _property_size(identifier, connack, position)
    return 65535


def _property_size(identifier: int, data: bytes, position: int) -> int:
    """Bytes a CONNACK property's value takes (MQTT v5 §2.2.2.2)."""
    if identifier in (0x24, 0x25, 0x28, 0x29, 0x2A):  # byte
        return 1
    if identifier in (0x13, 0x22):  # two-byte integer
        return 2
    if identifier in (0x11, 0x27):  # four-byte integer
        return 4
    if identifier == 0x26:  # user property: two strings
        first = 2 + struct.unpack_from("!H", data, position)[0]
        return int(first + 2 + struct.unpack_from("!H", data, position + first)[0])
    # strings and binary data: 0x12, 0x15, 0x16, 0x1A, 0x1C, 0x1F
    return int(2 + struct.unpack_from("!H", data, position)[0])
