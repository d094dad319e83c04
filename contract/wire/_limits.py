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

#: A SHA-256 digest in lower-case hex: a day seal's ``prev``, ``supersedes`` and Merkle root.
SHA256_HEX_PATTERN = r"^[0-9a-f]{64}$"
#: An IANA time zone name (``Asia/Shanghai``, ``America/Argentina/Buenos_Aires``, ``UTC``):
#: checked for form only, so a reviewer's machine without a zone database still reads seals.
ZONE_PATTERN = r"^[A-Za-z][A-Za-z0-9_+-]{0,30}(/[A-Za-z0-9_+-]{1,30}){0,3}$"
#: Most distinct config digests a day seal part lists (it counts them all).
MAX_PART_DIGESTS = 100
#: Most parts in a day seal: one per provenance (measured, imported).
MAX_SEAL_PARTS = 2
#: Most seq ranges in one delivery confirmation: a collector sends more as several messages.
#: A confirmation of this many ranges is about 60 KB.
MAX_CONFIRMED_RANGES = 1000
