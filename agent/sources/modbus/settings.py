"""Connection settings of one Modbus device link (TCP or RTU), independent of any config file."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["ModbusConnection", "RtuLink", "TcpLink"]

# Modbus Application Protocol V1.1b3, 6.1-6.4: a read may ask for at most 2000 bits (FC 1/2) or
# 125 registers (FC 3/4), so that the response fits the 253-byte PDU.
SPEC_MAX_READ_BITS = 2000
SPEC_MAX_READ_REGISTERS = 125


@dataclass(frozen=True, slots=True)
class TcpLink:
    """Modbus TCP server address."""

    host: str
    port: int = 502

    def describe(self) -> str:
        """``host:port`` for log lines and reasons."""
        return f"{self.host}:{self.port}"


@dataclass(frozen=True, slots=True)
class RtuLink:
    """Serial line for Modbus RTU: device path and framing."""

    port: str
    baudrate: int = 19200
    parity: Literal["N", "E", "O"] = "N"
    stopbits: Literal[1, 2] = 1
    bytesize: Literal[7, 8] = 8

    def describe(self) -> str:
        """``/dev/ttyX 19200 8N1`` for log lines and reasons."""
        return f"{self.port} {self.baudrate} {self.bytesize}{self.parity}{self.stopbits}"


@dataclass(frozen=True, slots=True)
class ModbusConnection:
    """How to talk to one device: link, timing, and the read-coalescing limits.

    ``timeout_s`` bounds the connect and each request attempt; a request is sent ``1 + retries``
    times before it is given up. ``max_read_registers`` / ``max_read_bits`` are the largest reads
    the device accepts (the spec's 125 / 2000 by default; some devices want less).
    ``max_gap`` is how many unused addresses a coalesced read may read through (0 = only
    contiguous points share a request), in the table's own units (registers or bits).
    Reconnect attempts back off from ``backoff_initial_s`` doubling to ``backoff_max_s``, jittered.
    Two quirks of real devices, both off (0) by default: ``pause_after_connect_s`` waits after a
    new connection before the first request (gateways and inverter dongles that drop the first
    request sent too soon, Telegraf #11919), and ``min_request_gap_s`` keeps at least that long
    between one answer and the next request on the link (serial devices and RS-485 gateways that
    need the line to settle, Telegraf #9253).

    Raises ValueError on values outside those ranges.
    """

    link: TcpLink | RtuLink
    timeout_s: float = 1.0
    retries: int = 1
    max_read_registers: int = SPEC_MAX_READ_REGISTERS
    max_read_bits: int = SPEC_MAX_READ_BITS
    max_gap: int = 10
    backoff_initial_s: float = 0.5
    backoff_max_s: float = 30.0
    pause_after_connect_s: float = 0.0
    min_request_gap_s: float = 0.0

    def __post_init__(self) -> None:
        problems = [
            f"{name}: got {value}, expected {expected}"
            for name, value, ok, expected in (
                ("timeout_s", self.timeout_s, self.timeout_s > 0, "> 0"),
                ("retries", self.retries, 0 <= self.retries <= 10, "0..10"),
                (
                    "max_read_registers",
                    self.max_read_registers,
                    1 <= self.max_read_registers <= SPEC_MAX_READ_REGISTERS,
                    f"1..{SPEC_MAX_READ_REGISTERS}",
                ),
                (
                    "max_read_bits",
                    self.max_read_bits,
                    1 <= self.max_read_bits <= SPEC_MAX_READ_BITS,
                    f"1..{SPEC_MAX_READ_BITS}",
                ),
                ("max_gap", self.max_gap, self.max_gap >= 0, ">= 0"),
                (
                    "pause_after_connect_s",
                    self.pause_after_connect_s,
                    self.pause_after_connect_s >= 0,
                    ">= 0",
                ),
                ("min_request_gap_s", self.min_request_gap_s, self.min_request_gap_s >= 0, ">= 0"),
                ("backoff_initial_s", self.backoff_initial_s, self.backoff_initial_s > 0, "> 0"),
                (
                    "backoff_max_s",
                    self.backoff_max_s,
                    self.backoff_max_s >= self.backoff_initial_s,
                    ">= backoff_initial_s",
                ),
            )
            if not ok
        ]
        if problems:
            raise ValueError(f"modbus connection {self.link.describe()}: " + "; ".join(problems))
