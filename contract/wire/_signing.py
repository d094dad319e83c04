"""Keys and signatures: the registry's key text, sealing messages, verifying received ones."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, Literal

from contract.wire._canonical import canonical_bytes
from contract.wire._codec import (
    ReceivedConfirmation,
    ReceivedDaySeal,
    ReceivedEnvelope,
    ReceivedStatus,
)
from contract.wire._confirmation import Confirmation, Refusal, SeqRange
from contract.wire._day_seal import DaySeal, DaySealPart, MessageT
from contract.wire._errors import BadSignature
from contract.wire._limits import MAX_RECORDS, MAX_SEQ, MAX_TEXT, WIRE_VERSION
from contract.wire._messages import Envelope, KpiWindow, StatusMessage
from contract.wire._time import format_timestamp, utc_ms
from contract.wire._topics import validate_identifier

if TYPE_CHECKING:
    # cryptography is imported where a key is parsed or a signature verified, not with the
    # contract: the agent signs through libcrypto (contract.ed25519) and never needs it.
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    from contract.ed25519 import Signer

_PUBLIC_KEY_PREFIX = "ed25519:"

#: A signed message, sealed here or received (the compiled codec's Structs).
Signed = (
    Envelope
    | StatusMessage
    | DaySeal
    | Confirmation
    | ReceivedEnvelope
    | ReceivedStatus
    | ReceivedDaySeal
    | ReceivedConfirmation
)


def public_key_text(key: Ed25519PublicKey) -> str:
    """The registry's form of a public key: ``ed25519:`` + base64 of the 32 raw bytes."""
    from cryptography.hazmat.primitives import serialization

    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return _PUBLIC_KEY_PREFIX + base64.b64encode(raw).decode("ascii")


def public_key_from_text(text: str) -> Ed25519PublicKey:
    """Parse ``ed25519:<base64>``; raise ValueError naming what is wrong."""
    text = text.strip()
    if not text.startswith(_PUBLIC_KEY_PREFIX):
        raise ValueError(f"public key must start with {_PUBLIC_KEY_PREFIX!r}")
    try:
        raw = base64.b64decode(text[len(_PUBLIC_KEY_PREFIX) :], validate=True)
    except binascii.Error as exc:
        raise ValueError(f"public key is not valid base64: {exc}") from exc
    if len(raw) != 32:
        raise ValueError(f"public key has {len(raw)} bytes, expected 32")
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    return Ed25519PublicKey.from_public_bytes(raw)


def _sign(fields: dict[str, Any], key: Signer) -> str:
    return base64.b64encode(key.sign(canonical_bytes(fields))).decode("ascii")


def _seal(model: type[MessageT], fields: dict[str, Any], key: Signer) -> MessageT:
    unsigned = model.model_validate({**fields, "sig": "-"})
    body = unsigned.model_dump(mode="json", exclude={"sig"})
    return unsigned.model_copy(update={"sig": _sign(body, key)})


def seal_envelope(
    *,
    platform: str,
    enterprise: str,
    agent: str,
    seq: int,
    sent: datetime,
    records: Sequence[KpiWindow],
    key: Signer,
) -> Envelope:
    """Build and sign an envelope; raises pydantic ValidationError if a field is out of contract."""
    fields = {
        "v": WIRE_VERSION,
        "platform": platform,
        "enterprise": enterprise,
        "agent": agent,
        "seq": seq,
        "sent": sent,
        "records": list(records),
    }
    return _seal(Envelope, fields, key)


def seal_envelope_bytes(
    *,
    platform: str,
    enterprise: str,
    agent: str,
    seq: int,
    sent: datetime,
    records: Sequence[bytes],
    key: Signer,
) -> bytes:
    """The same bytes as ``encode(seal_envelope(...))``, from records already canonical.

    The agent's outbox stores each window as its canonical bytes when it closes; sealing a
    batch then only joins them, so no record is parsed, validated or encoded twice. The
    caller guarantees each item is ``canonical_bytes`` of a valid :class:`KpiWindow` (the
    outbox wrote them so); everything else is checked here. Raises ValueError.
    """
    for name, value in (("platform", platform), ("enterprise", enterprise), ("agent", agent)):
        validate_identifier(value, what=name)
    if not 1 <= seq <= MAX_SEQ:
        raise ValueError(f"seq {seq} out of 1..{MAX_SEQ}")
    if not 1 <= len(records) <= MAX_RECORDS:
        raise ValueError(f"{len(records)} records, expected 1..{MAX_RECORDS}")
    # Canonical JSON sorts keys: agent, enterprise, platform, records, sent, seq, sig, v.
    head = canonical_bytes({"agent": agent, "enterprise": enterprise, "platform": platform})[:-1]
    middle = b',"records":[' + b",".join(records) + b"]"
    sent_text = format_timestamp(utc_ms(sent))
    tail = b',"sent":' + canonical_bytes(sent_text) + b',"seq":' + str(seq).encode()
    version = b',"v":' + str(WIRE_VERSION).encode() + b"}"
    signature = base64.b64encode(key.sign(head + middle + tail + version))
    return head + middle + tail + b',"sig":"' + signature + b'"' + version


def seal_status(
    *,
    platform: str,
    enterprise: str,
    agent: str,
    sent: datetime,
    state: Literal["online", "offline"],
    agent_version: str,
    config_digest: str,
    outbox_depth: int,
    outbox_full: bool = False,
    last_error: str | None = None,
    key: Signer,
) -> StatusMessage:
    """Build and sign a status message (birth or Last Will)."""
    fields = {
        "v": WIRE_VERSION,
        "platform": platform,
        "enterprise": enterprise,
        "agent": agent,
        "sent": sent,
        "state": state,
        "agent_version": agent_version,
        "config_digest": config_digest,
        "outbox_depth": outbox_depth,
        "outbox_full": outbox_full,
        "last_error": last_error[:MAX_TEXT] if last_error else None,
    }
    return _seal(StatusMessage, fields, key)


def seal_day_seal(
    *,
    platform: str,
    enterprise: str,
    agent: str,
    seq: int,
    sent: datetime,
    device: str,
    day: date,
    tz: str,
    version: int,
    supersedes: str | None,
    index: int,
    prev: str | None,
    dropped_windows: int,
    parts: Sequence[DaySealPart],
    key: Signer,
) -> DaySeal:
    """Build and sign a day seal (``encode`` it to publish, ``day_seal_sha256`` of those bytes
    to chain the next); raises pydantic ValidationError if a field is out of contract."""
    fields = {
        "kind": "day_seal",
        "v": WIRE_VERSION,
        "platform": platform,
        "enterprise": enterprise,
        "agent": agent,
        "seq": seq,
        "sent": sent,
        "device": device,
        "day": day,
        "tz": tz,
        "version": version,
        "supersedes": supersedes,
        "index": index,
        "prev": prev,
        "dropped_windows": dropped_windows,
        "parts": list(parts),
    }
    return _seal(DaySeal, fields, key)


def seal_confirmation(
    *,
    platform: str,
    enterprise: str,
    agent: str,
    sent: datetime,
    stored: Sequence[tuple[int, int]],
    key: Signer,
    refused: Sequence[tuple[int, int, str]] = (),
) -> Confirmation:
    """Build and sign a delivery confirmation for ``agent`` with the collector confirmation
    key; ``stored`` is ascending, merged ``(first, last)`` seq ranges (:func:`seq_ranges`
    makes them), ``refused`` ascending ``(first, last, reason)`` ranges (:func:`refusal_ranges`
    makes them; none: the key is left out); ``sent`` in whole milliseconds, as every wire
    time. Raises pydantic ValidationError if a field is out of contract."""
    fields: dict[str, object] = {
        "kind": "confirmation",
        "v": WIRE_VERSION,
        "platform": platform,
        "enterprise": enterprise,
        "agent": agent,
        "sent": sent,
        "stored": [SeqRange(first=first, last=last) for first, last in stored],
    }
    if refused:
        fields["refused"] = [Refusal(first=f, last=last, reason=r) for f, last, r in refused]
    return _seal(Confirmation, fields, key)


def seq_ranges(seqs: Iterable[int]) -> list[tuple[int, int]]:
    """The seqs as ascending, merged ``(first, last)`` ranges (duplicates are one seq)."""
    ranges: list[tuple[int, int]] = []
    for seq in sorted(set(seqs)):
        if ranges and ranges[-1][1] + 1 == seq:
            ranges[-1] = (ranges[-1][0], seq)
        else:
            ranges.append((seq, seq))
    return ranges


def refusal_ranges(refused: Iterable[tuple[int, str]]) -> list[tuple[int, int, str]]:
    """``(seq, reason)`` pairs as ascending ``(first, last, reason)`` ranges, merged where
    they touch with the same reason (a seq given twice keeps its first reason)."""
    reasons: dict[int, str] = {}
    for seq, reason in refused:
        reasons.setdefault(seq, reason)
    ranges: list[tuple[int, int, str]] = []
    for seq in sorted(reasons):
        reason = reasons[seq]
        if ranges and ranges[-1][1] + 1 == seq and ranges[-1][2] == reason:
            ranges[-1] = (ranges[-1][0], seq, reason)
        else:
            ranges.append((seq, seq, reason))
    return ranges


def verify_confirmation(
    message: Confirmation | ReceivedConfirmation, keys: Sequence[Ed25519PublicKey]
) -> None:
    """Check a confirmation against the collector confirmation keys an agent pins (any one
    may have signed it: a key rotation pins both for a while); raise BadSignature."""
    signed = message.signed_bytes()
    for key in keys:
        try:
            _check_signature(message, key, signed)
        except BadSignature:
            continue
        return
    raise BadSignature(
        f"confirmation for {message.agent} is not signed by any of the {len(keys)} pinned "
        "collector confirmation keys",
        field="sig",
    )


def verify_received(raw: bytes | bytearray, message: Signed, key: Ed25519PublicKey) -> None:
    """:func:`verify` for ``message`` as just decoded from exactly ``raw``, without re-encoding.

    A decoded message was proven canonical, so the bytes its signature covers are ``raw``
    without the ``sig`` member: keys are sorted and ``sig`` is never first, and inside a JSON
    string a quote is escaped, so the member's text cannot occur in a value. This saves
    encoding every message a second time on the collector's hot path. ``message`` must be
    what :func:`decode_envelope` / :func:`decode_windows` / :func:`decode_status` /
    :func:`decode_day_seal` returned for ``raw``. Raises
    BadSignature.
    """
    member = b',"sig":"' + message.sig.encode("ascii") + b'"'
    raw = bytes(raw)
    if raw.count(member) != 1:
        verify(message, key)  # not the bytes of this message: take the long way
        return
    _check_signature(message, key, raw.replace(member, b"", 1))


def verify(message: Signed, key: Ed25519PublicKey) -> None:
    """Check the message's signature against the agent's registered key; raise BadSignature."""
    _check_signature(message, key, message.signed_bytes())


def _check_signature(message: Signed, key: Ed25519PublicKey, signed: bytes) -> None:
    try:
        signature = base64.b64decode(message.sig, validate=True)
    except binascii.Error as exc:
        raise BadSignature("signature is not valid base64", field="sig") from exc
    # Base64 has spare bits in its last character: refuse any spelling but the canonical one,
    # or a changed byte in the signature could still verify.
    if base64.b64encode(signature).decode("ascii") != message.sig:
        raise BadSignature("signature is not in canonical base64", field="sig")
    try:
        key.verify(signature, signed)
    except Exception as exc:
        from cryptography.exceptions import InvalidSignature  # loaded with the key already

        if not isinstance(exc, InvalidSignature):
            raise
        raise BadSignature(
            f"signature does not match agent {message.agent}'s registered key", field="sig"
        ) from exc
