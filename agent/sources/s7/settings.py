"""How to reach one S7 PLC, independent of any configuration file."""

from __future__ import annotations

import enum
from dataclasses import dataclass

__all__ = ["S7Connection", "S7ConnectionType"]


class S7ConnectionType(enum.IntEnum):
    """The connection resource asked of the CPU (the high byte of the remote TSAP)."""

    PG = 1  # programming device
    OP = 2  # operator panel
    BASIC = 3  # S7 basic communication


@dataclass(frozen=True, slots=True)
class S7Connection:
    """Address, rack and slot, connection type, PDU size asked for, timing, coalescing gap.

    ``timeout_s`` bounds the connect and each read. Reconnect attempts back off from
    ``backoff_initial_s`` doubling to ``backoff_max_s``, jittered. Raises ValueError on a rack,
    slot or PDU size the protocol cannot carry.
    """

    host: str
    port: int = 102
    rack: int = 0
    slot: int = 1
    connection_type: S7ConnectionType = S7ConnectionType.OP
    pdu_size: int = 480
    max_gap: int = 16
    timeout_s: float = 1.0
    backoff_initial_s: float = 0.5
    backoff_max_s: float = 30.0

    def __post_init__(self) -> None:
        # The remote TSAP packs rack into 3 bits and slot into 5 (snap7's connect()).
        if not 0 <= self.rack <= 7 or not 0 <= self.slot <= 31:
            raise ValueError(f"rack 0..7 and slot 0..31, got rack {self.rack} slot {self.slot}")
        if not 240 <= self.pdu_size <= 960:
            raise ValueError(f"pdu_size: got {self.pdu_size}, expected 240..960 bytes")

    def describe(self) -> str:
        """``host:port rack 0 slot 1`` for log lines and reasons."""
        return f"{self.host}:{self.port} rack {self.rack} slot {self.slot}"
