"""The contract's numbers: its version, the size and range limits, the digest pattern."""

from __future__ import annotations

WIRE_VERSION = 1

#: Largest message either side accepts, in bytes. 500 records of about 600 bytes fit with room.
MAX_MESSAGE_BYTES = 512 * 1024
#: Most records in one envelope.
MAX_RECORDS = 500
#: Longest window a record may cover: a day, for imported per-shift or per-day historian rows.
MAX_WINDOW_S = 86_400
#: Largest count a record may carry: InfluxDB's int64 field range.
MAX_COUNT = 2**63 - 1
#: Largest energy a record may carry, in kWh.
MAX_ENERGY_KWH = 1e12
#: Largest seq: also int64, so it fits SQLite and InfluxDB.
MAX_SEQ = 2**63 - 1
#: Longest free-text field (a status message's last error).
MAX_TEXT = 500
#: Slack allowed when state times are summed against the window length (float rounding).
STATE_SUM_TOLERANCE_S = 1e-3

CONFIG_DIGEST_PATTERN = r"^sha256:[0-9a-f]{64}$"
