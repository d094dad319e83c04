"""The compiled codec: received messages parsed, range-checked and proven canonical in C.

The collector's hot path. msgspec decodes the bytes straight into Structs (no Python object
tree) and checks every type, range and length as it goes; identifiers, digests and times are
checked once per distinct text, the window's cross-field rules (:mod:`contract.wire._rules`)
once per window (``__post_init__``, which msgspec runs while decoding); msgspec then encodes the
Struct again with sorted keys, and the message is accepted only if that gives the received
bytes back. The Structs' fields come from the one list of base quantities
(:mod:`contract.quantities`): a quantity added there is decoded, checked and encoded here
with no other change.

It accepts exactly what the exact path (``json.loads``, the pydantic models, Python's
``json.dumps``) accepts, and gives the same values (``tests/contract/test_wire_codec.py``):

- Python's ``re`` lets ``$`` match before a final newline, pydantic's engine does not: the
  patterns here end in ``\\Z``.
- Timestamps are kept as their wire text; each is parsed and must format back to itself (a
  year before 1000 or a 13th month would pass the pattern alone).
- msgspec writes a float below 1e-4 as ``0.00001`` or ``1e-7`` where Python writes ``1e-05``
  and ``1e-07`` (every other finite float in the contract's ranges is written alike: checked
  on 1.4 M values). A message holding one goes the exact way (:func:`has_tiny_float`).
"""

from __future__ import annotations

import functools
import operator
import re
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal, TypeVar

import msgspec

from contract import quantities
from contract.quantities import Quantity
from contract.wire._canonical import canonical_bytes
from contract.wire._confirmation import REFUSAL_REASON_PATTERN
from contract.wire._limits import (
    CONFIG_DIGEST_PATTERN,
    MAX_CONFIRMED_RANGES,
    MAX_COUNT,
    MAX_ENERGY_KWH,
    MAX_PART_DIGESTS,
    MAX_RECORDS,
    MAX_SEAL_PARTS,
    MAX_SEQ,
    MAX_TEXT,
    MAX_WINDOW_S,
    SHA256_HEX_PATTERN,
    WIRE_VERSION,
    ZONE_PATTERN,
)
from contract.wire._rules import (
    MEASURED_QUANTITIES,
    check_confirmed,
    check_day_part,
    check_day_seal,
    check_window_times,
)
from contract.wire._time import format_timestamp, parse_day, parse_timestamp
from contract.wire._topics import IDENTIFIER_PATTERN


def _anchored(pattern: str) -> str:
    # Python's `$` also matches before a trailing "\n"; `\Z` only at the very end.
    return pattern.removesuffix("$") + r"\Z"


_IDENTIFIER_RE = re.compile(_anchored(IDENTIFIER_PATTERN))
_DIGEST_RE = re.compile(_anchored(CONFIG_DIGEST_PATTERN))
_SHA256_RE = re.compile(_anchored(SHA256_HEX_PATTERN))
_ZONE_RE = re.compile(_anchored(ZONE_PATTERN))

# The range of each unit of contract.quantities (the pydantic models say the same per field).
_RANGES: dict[str, msgspec.Meta] = {
    "s": msgspec.Meta(ge=0, le=MAX_WINDOW_S),
    "kWh": msgspec.Meta(ge=0, le=MAX_ENERGY_KWH),
    "parts": msgspec.Meta(ge=0, le=MAX_COUNT),
    "count": msgspec.Meta(ge=0, le=MAX_COUNT),
}
# A reference quantity (the ideal cycle time) is a rate's denominator: it must be positive.
_REFERENCE_RANGE = msgspec.Meta(gt=0, le=MAX_WINDOW_S)
# Quantities whose range is not their unit's. Fully productive time (ideal cycle x good parts)
# exceeds the window when the ideal cycle is set too long: the plausibility checks flag that,
# so the wire keeps it (the pydantic model says the same).
_QUANTITY_RANGES: dict[str, msgspec.Meta] = {
    "ideal_good_s": msgspec.Meta(ge=0, le=MAX_WINDOW_S * MAX_COUNT),
}


def _field(quantity: Quantity, meta: msgspec.Meta | None = None) -> tuple[Any, ...]:
    python_type = float if quantity.kind == "float" else int
    meta = meta or _QUANTITY_RANGES.get(quantity.name) or _RANGES[quantity.unit]
    annotated: Any = Annotated[python_type, meta]
    if quantity.absent_is_null:
        # Absent is None, and None is encoded by leaving the key out (the window Struct has
        # omit_defaults, and no other field of it has a default): docs/wire-contract.md.
        return quantity.name, annotated | None, None
    return quantity.name, annotated | None if quantity.optional else annotated


# Identifiers, digests and times repeat from message to message (an agent's devices, its
# config, an envelope's shared window bounds): each text is checked once, not once a window
# as msgspec's own `pattern` would (a Python regex call per value, a third of the decoding).


@functools.lru_cache(maxsize=4096)
def _identifier(text: str) -> None:
    if not _IDENTIFIER_RE.match(text):
        raise ValueError(f"{text[:80]!r} is not a valid id")


@functools.lru_cache(maxsize=1024)
def _digest(text: str) -> None:
    if not _DIGEST_RE.match(text):
        raise ValueError(f"{text[:80]!r} is not a config digest")


@functools.lru_cache(maxsize=1024)
def _moment(text: str) -> datetime:
    """The instant a wire timestamp names; ValueError unless ``text`` is its canonical form."""
    moment = parse_timestamp(text)
    if format_timestamp(moment) != text:
        raise ValueError(f"{text!r} is not a canonical timestamp")
    return moment


_state_times = operator.attrgetter(*quantities.STATE_TIMES)


class _Message(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """What a received message holds, as the wire has it (times as their text)."""


class ReceivedWindow(_Message, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """A :class:`KpiWindow` as received: the same fields, times as wire text (``start_time``).

    The base quantities and ``quality`` are added from :mod:`contract.quantities` below.
    """

    device: str  # an identifier, the times in wire form, the digest: checked by __post_init__
    start: str
    end: str
    provenance: Literal["measured", "imported"]
    config_digest: str
    # Required here though the model has defaults: canonical bytes always hold both keys, and
    # the window Struct omits fields equal to their default (only absent-is-null quantities
    # may have one). A message without them is not canonical, as the exact path says.
    kind: Literal["kpi_window"]
    partial: bool

    if TYPE_CHECKING:  # the fields built from contract.quantities, unknown to a type checker

        def __getattr__(self, name: str) -> Any: ...

    @property
    def start_time(self) -> datetime:
        """``start`` as an aware UTC datetime."""
        return _moment(self.start)

    @property
    def end_time(self) -> datetime:
        """``end`` as an aware UTC datetime."""
        return _moment(self.end)

    def __post_init__(self) -> None:
        # msgspec runs this while decoding; a ValueError makes the decode fail.
        _identifier(self.device)
        _digest(self.config_digest)
        quality = self.quality
        check_window_times(
            _moment(self.start),
            _moment(self.end),
            _state_times(self),
            quality.comm_loss_s,
            self.scheduled_s,
            self.planned_s,
            quality.scheduled_comm_loss_s,
            self.total_count,
            self.unobserved_count,
            self.unsampled_run_s,
            self.inferred_planned_s,
        )


_STRUCT_OPTIONS: dict[str, Any] = {
    "frozen": True,
    "forbid_unknown_fields": True,
    "kw_only": True,
    "module": __name__,
}

if TYPE_CHECKING:
    _Window = ReceivedWindow
else:
    _Quality = msgspec.defstruct(
        "ReceivedQuality",
        [_field(q) for q in quantities.QUALITY_QUANTITIES],
        **_STRUCT_OPTIONS,
    )
    _Window = msgspec.defstruct(
        "ReceivedWindow",
        [
            *(_field(q) for q in quantities.BASE_QUANTITIES),
            *(_field(q, _REFERENCE_RANGE) for q in quantities.REFERENCE),
            ("quality", _Quality),
        ],
        bases=(ReceivedWindow,),
        omit_defaults=True,
        **_STRUCT_OPTIONS,
    )


class _ReceivedSigned(_Message, frozen=True, forbid_unknown_fields=True, kw_only=True):
    v: int
    platform: str  # identifiers and a wire time: checked by __post_init__
    enterprise: str
    agent: str
    sent: str
    sig: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]

    @property
    def sent_time(self) -> datetime:
        """``sent`` as an aware UTC datetime."""
        return _moment(self.sent)

    def __post_init__(self) -> None:
        for name in (self.platform, self.enterprise, self.agent):
            _identifier(name)
        _moment(self.sent)

    def signed_bytes(self) -> bytes:
        """The canonical bytes the signature covers: the whole message without ``sig``."""
        fields = msgspec.to_builtins(self)
        del fields["sig"]
        return canonical_bytes(fields)


class ReceivedEnvelope(_ReceivedSigned, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """An :class:`Envelope` as received: what the collector checks, records and writes."""

    seq: Annotated[int, msgspec.Meta(ge=1, le=MAX_SEQ)]
    records: Annotated[list[_Window], msgspec.Meta(min_length=1, max_length=MAX_RECORDS)]


class ReceivedStatus(_ReceivedSigned, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """A :class:`StatusMessage` as received."""

    state: Literal["online", "offline"]
    agent_version: Annotated[str, msgspec.Meta(max_length=64)]
    config_digest: str
    outbox_depth: Annotated[int, _RANGES["count"]]
    outbox_full: bool = False
    last_error: Annotated[str, msgspec.Meta(max_length=MAX_TEXT)] | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        _digest(self.config_digest)


# --- the day seal -------------------------------------------------------------------------

# A day's sums: non-negative, finite (JSON has no other floats), integers within int64.
_SUM_RANGES: dict[str, msgspec.Meta] = {
    "float": msgspec.Meta(ge=0),
    "integer": msgspec.Meta(ge=0, le=MAX_COUNT),
}
_COUNT = _RANGES["count"]
_SEQ = msgspec.Meta(ge=1, le=MAX_SEQ)


def _sum_field(quantity: Quantity) -> tuple[Any, ...]:
    python_type = float if quantity.kind == "float" else int
    annotated: Any = Annotated[python_type, _SUM_RANGES[quantity.kind]]
    # An integer sum is null past int64 (named in ``overflowed``); exact milliseconds never are.
    nullable = quantity.optional or (quantity.kind == "integer" and quantity.name != "duration_ms")
    if quantity.name in quantities.DAY_SUMS_ABSENT_IS_NULL:
        # Absent is None, written by leaving the key out (the sums Struct has omit_defaults,
        # and no other field of it has a default): seals made before the sum stay canonical.
        return quantity.name, annotated | None, None
    return quantity.name, annotated | None if nullable else annotated


def _sha256_hex(text: str | None, field: str) -> None:
    if text is not None and not _SHA256_RE.match(text):
        raise ValueError(f"{field}: {text[:80]!r} is not a SHA-256 in lower-case hex")


class ReceivedDaySealPart(_Message, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """A :class:`DaySealPart` as received (times as wire text); ``sums`` from the quantities."""

    provenance: Literal["imported", "measured"]
    windows: Annotated[int, msgspec.Meta(ge=1, le=MAX_COUNT)]
    partial_windows: Annotated[int, _COUNT]
    first_start: str
    last_end: str
    seq_first: Annotated[int, _SEQ]
    seq_last: Annotated[int, _SEQ]
    config_digest_first: str
    config_digest_last: str
    config_digest_count: Annotated[int, msgspec.Meta(ge=1, le=MAX_COUNT)]
    config_digests: Annotated[list[str], msgspec.Meta(min_length=1, max_length=MAX_PART_DIGESTS)]
    measured_windows: Annotated[
        dict[str, Annotated[int, _COUNT]], msgspec.Meta(max_length=len(MEASURED_QUANTITIES))
    ]
    ideal_cycle_s_min: Annotated[float, _REFERENCE_RANGE] | None
    ideal_cycle_s_max: Annotated[float, _REFERENCE_RANGE] | None
    overflowed: Annotated[
        list[Annotated[str, msgspec.Meta(max_length=64)]],
        msgspec.Meta(max_length=len(quantities.DAY_SUMS)),
    ]
    merkle_root: str

    if TYPE_CHECKING:  # ``sums``, built from contract.quantities, unknown to a type checker

        def __getattr__(self, name: str) -> Any: ...

    def __post_init__(self) -> None:
        for digest in (self.config_digest_first, self.config_digest_last, *self.config_digests):
            _digest(digest)
        _sha256_hex(self.merkle_root, "merkle_root")
        sums = {q.name: getattr(self.sums, q.name) for q in quantities.DAY_SUMS}
        check_day_part(self, _moment(self.first_start), _moment(self.last_end), sums)


if TYPE_CHECKING:
    _Part = ReceivedDaySealPart
else:
    _Sums = msgspec.defstruct(
        "ReceivedDaySums",
        [_sum_field(q) for q in quantities.DAY_SUMS],
        omit_defaults=True,
        **_STRUCT_OPTIONS,
    )
    _Part = msgspec.defstruct(
        "ReceivedDaySealPart",
        [("sums", _Sums)],
        bases=(ReceivedDaySealPart,),
        **_STRUCT_OPTIONS,
    )


class ReceivedDaySeal(_ReceivedSigned, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """A :class:`DaySeal` as received."""

    kind: Literal["day_seal"]
    seq: Annotated[int, _SEQ]
    device: str
    day: str
    tz: Annotated[str, msgspec.Meta(max_length=64)]
    version: Annotated[int, _SEQ]
    supersedes: str | None
    index: Annotated[int, _SEQ]
    prev: str | None
    dropped_windows: Annotated[int, _COUNT]
    parts: Annotated[list[_Part], msgspec.Meta(min_length=1, max_length=MAX_SEAL_PARTS)]

    def __post_init__(self) -> None:
        super().__post_init__()
        _identifier(self.device)
        parse_day(self.day)
        if not _ZONE_RE.match(self.tz):
            raise ValueError(f"tz: {self.tz[:80]!r} is not an IANA zone name")
        _sha256_hex(self.supersedes, "supersedes")
        _sha256_hex(self.prev, "prev")
        check_day_seal(self)


# --- the delivery confirmation ------------------------------------------------------------


class ReceivedSeqRange(_Message, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """A :class:`SeqRange` as received."""

    first: Annotated[int, _SEQ]
    last: Annotated[int, _SEQ]


class ReceivedRefusal(_Message, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """A :class:`Refusal` as received."""

    first: Annotated[int, _SEQ]
    last: Annotated[int, _SEQ]
    reason: Annotated[str, msgspec.Meta(pattern=_anchored(REFUSAL_REASON_PATTERN))]


class ReceivedConfirmation(
    _ReceivedSigned, frozen=True, forbid_unknown_fields=True, kw_only=True, omit_defaults=True
):
    """A :class:`Confirmation` as received (by an agent). ``refused`` is its only field with a
    default, so ``omit_defaults`` leaves out exactly the absent refusals, as the model does."""

    kind: Literal["confirmation"]
    stored: Annotated[list[ReceivedSeqRange], msgspec.Meta(max_length=MAX_CONFIRMED_RANGES)]
    refused: (
        Annotated[
            list[ReceivedRefusal], msgspec.Meta(min_length=1, max_length=MAX_CONFIRMED_RANGES)
        ]
        | None
    ) = None

    def __post_init__(self) -> None:
        super().__post_init__()
        check_confirmed(self.stored, self.refused or [])


_DECODERS: dict[type[Any], msgspec.json.Decoder[Any]] = {
    ReceivedEnvelope: msgspec.json.Decoder(ReceivedEnvelope),
    ReceivedStatus: msgspec.json.Decoder(ReceivedStatus),
    ReceivedDaySeal: msgspec.json.Decoder(ReceivedDaySeal),
    ReceivedConfirmation: msgspec.json.Decoder(ReceivedConfirmation),
}
_ENCODER = msgspec.json.Encoder(order="sorted")


def has_tiny_float(raw: bytes) -> bool:
    """Whether ``raw`` may hold a float msgspec writes unlike Python (below 1e-4, not 0).

    msgspec writes 1e-5 <= x < 1e-4 as ``0.0000…`` (a member value, after ``":``) and smaller
    ones as ``<digits>e-<digits>``; a digit before ``e-`` occurs nowhere else in a message
    but in free text, where a false alarm only sends the message the exact way.
    """
    if b'":0.0000' in raw:
        return True
    at = raw.find(b"e-")
    while at > 0:
        if 0x30 <= raw[at - 1] <= 0x39:
            return True
        at = raw.find(b"e-", at + 2)
    return False


def has_negative_zero(raw: bytes) -> bool:
    """Whether ``raw`` may hold ``-0.0`` as a member value: the exact path refuses those.

    ``ge=0`` lets -0.0 through in both codecs, but InfluxDB's JSON writes it ``-0``, read back
    as the integer 0: a stored window would no longer rebuild to the bytes its seal committed
    to. Inside free text the quote before it is escaped, so a false alarm only sends the
    message the exact way, which accepts it.
    """
    return b'":-0.0' in raw


_WINDOW_DECODER = msgspec.json.Decoder(_Window)


def decode_window_compiled(record: bytes) -> ReceivedWindow | None:
    """The window ``record`` (one element of an envelope's records) encodes, if it is valid
    and canonical, else None; never raises. None also for a record holding a float below
    1e-4 or ``-0.0``: the exact path decides those, as for whole messages."""
    if has_tiny_float(record) or has_negative_zero(record):
        return None
    try:
        window: ReceivedWindow = _WINDOW_DECODER.decode(record)
    except (msgspec.DecodeError, ValueError, RecursionError):
        return None
    return window if _ENCODER.encode(window) == record else None


ReceivedT = TypeVar(
    "ReceivedT", ReceivedEnvelope, ReceivedStatus, ReceivedDaySeal, ReceivedConfirmation
)


def decode_compiled(kind: type[ReceivedT], raw: bytes) -> ReceivedT | None:
    """The message ``raw`` encodes if it is valid and canonical, else None; never raises.

    None also for a valid message holding a float below 1e-4 (:func:`has_tiny_float`) or
    ``-0.0`` (:func:`has_negative_zero`): the exact path decides those. The caller checks the
    size limit first.
    """
    try:
        message: ReceivedT = _DECODERS[kind].decode(raw)
    except (msgspec.DecodeError, ValueError, RecursionError):  # ValidationError is a DecodeError
        return None
    if message.v != WIRE_VERSION or _ENCODER.encode(message) != raw:
        return None
    if has_tiny_float(raw) or has_negative_zero(raw):
        return None
    return message


def decode_accepted(kind: type[ReceivedT], raw: bytes) -> ReceivedT:
    """``raw`` as a ``kind``, for bytes the exact path has accepted; raises msgspec's errors."""
    message: ReceivedT = _DECODERS[kind].decode(raw)
    return message
