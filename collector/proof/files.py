"""An enterprise bundle's three proof files: the day seals, the agents' keys, the day checks.

- ``day-seals.jsonl``: the agents' day seals exactly as the collector received them, one per
  line, ``{"raw": "<base64 of the seal's bytes>", "sha256": "<hex>"}`` in the wire contract's
  canonical JSON, sorted by (agent, device, chain index, hash). The seal's bytes travel as
  base64 so that no JSON tool, editor or transfer can change one of them: the agent's signature
  and the chain's hashes cover the bytes, not the values, and the registry keeps whatever bytes
  arrived (either wire codec). ``sha256`` is SHA-256 of those bytes (the seal's name, which
  ``prev``, ``supersedes`` and ``day-checks.json`` use); a reader checks it.
- ``agent-keys.json``: the registry's agents of the enterprise and their keys, when the bundle
  was written. Informational, **never a trust root**: whoever runs the collector could swap
  them; a reviewer checks seals against the agents in their own copy of the plan.
- ``day-checks.json``: the collector's judgement of each daily row against its seal
  (``sealed_equal``, ``sealed_different`` with each figure's two values, ``unsealed``). A
  verifier re-derives it; it is there so a reader sees what the collector saw.

Each file has one byte form (the writer's), and each reader refuses anything else with a
:class:`ProofFileError` naming the file, the line or field, and what was wrong. The room is
pure: ``contract``, pydantic and the standard library (tests/test_import_rules.py).
docs/evidence-bundle.md ("The proof files") is the prose twin.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Annotated, Final, Literal, TypeVar

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    ValidationError,
    field_validator,
    model_validator,
)

from collector.proof.errors import ProofFileError
from collector.proof.manifest import SHA256_HEX_PATTERN, json_bytes
from contract import wire

__all__ = [
    "AGENT_KEYS_FORMAT",
    "AGENT_KEYS_NAME",
    "AGENT_KEYS_NOTE",
    "DAY_CHECKS_FORMAT",
    "DAY_CHECKS_NAME",
    "DAY_SEALS_NAME",
    "MAX_DAY_SEAL_LINE_BYTES",
    "PROOF_FILE_NAMES",
    "AgentKeysFile",
    "BundleAgentKey",
    "BundleDayCheck",
    "BundleDaySeal",
    "BundleSealDifference",
    "DayChecksFile",
    "agent_keys_bytes",
    "bundle_day_seal",
    "day_checks_bytes",
    "day_seals_bytes",
    "read_agent_keys",
    "read_day_checks",
    "read_day_seals",
]

DAY_SEALS_NAME: Final = "day-seals.jsonl"
AGENT_KEYS_NAME: Final = "agent-keys.json"
DAY_CHECKS_NAME: Final = "day-checks.json"
#: The proof files of an enterprise bundle, in the order the writer lists them.
PROOF_FILE_NAMES: Final = (AGENT_KEYS_NAME, DAY_CHECKS_NAME, DAY_SEALS_NAME)
AGENT_KEYS_FORMAT: Final = "retrofit-verify.agent-keys/1"
DAY_CHECKS_FORMAT: Final = "retrofit-verify.day-checks/1"
#: Written into ``agent-keys.json`` so that nobody reading it alone takes it for a trust root.
AGENT_KEYS_NOTE: Final = (
    "informational: the collector's registry as the bundle was written; never a trust root. "
    "Check each seal against the agents listed in your own copy of the plan."
)
#: A seal is at most ~9 KB (100 digests); its line, in base64 plus the hash, stays far below.
MAX_DAY_SEAL_LINE_BYTES: Final = 64 * 1024

Identifier = Annotated[str, Field(pattern=wire.IDENTIFIER_PATTERN)]
Sha256Hex = Annotated[str, Field(pattern=SHA256_HEX_PATTERN)]
FiniteFloat = Annotated[float, Field(allow_inf_nan=False)]
#: A figure's value in a difference: a number, text (a wire timestamp, a digest), a list of
#: names (``overflowed``) or null (a figure one side does not have).
FigureValue = StrictBool | StrictInt | FiniteFloat | StrictStr | list[StrictStr] | None
Provenance = Literal["imported", "measured"]
Outcome = Literal["sealed_different", "sealed_equal", "unsealed"]


# --- day-seals.jsonl ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BundleDaySeal:
    """One line of ``day-seals.jsonl``: a seal's exact bytes, their SHA-256, and the seal
    decoded from them (signature not checked: that needs the reviewer's plan)."""

    sha256: str
    raw: bytes
    seal: wire.DaySeal

    def order(self) -> tuple[str, str, int, str]:
        """Sort key of the file: (agent, device, chain index, hash)."""
        return (self.seal.agent, self.seal.device, self.seal.index, self.sha256)


def bundle_day_seal(raw: bytes) -> BundleDaySeal:
    """The line for a seal's bytes as received. Raises :class:`contract.wire.WireError` if
    they are not a day seal (the registry only keeps seals that were)."""
    return BundleDaySeal(wire.day_seal_sha256(raw), bytes(raw), wire.decode_day_seal(raw))


class _SealLine(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    raw: str
    sha256: Sha256Hex


def _line_bytes(seal: BundleDaySeal) -> bytes:
    text = base64.b64encode(seal.raw).decode("ascii")
    return wire.canonical_bytes({"raw": text, "sha256": seal.sha256}) + b"\n"


def day_seals_bytes(seals: Iterable[BundleDaySeal]) -> bytes:
    """The bytes of ``day-seals.jsonl``: one line per seal, sorted by (agent, device, chain
    index, hash); the same seal given twice is written once. No seals: an empty file."""
    unique = {seal.sha256: seal for seal in seals}
    return b"".join(_line_bytes(seal) for seal in sorted(unique.values(), key=BundleDaySeal.order))


def _seal_of_line(line: bytes, number: int) -> BundleDaySeal:
    def refuse(detail: str, field: str | None = None) -> ProofFileError:
        return ProofFileError(DAY_SEALS_NAME, detail, line=number, field=field)

    if len(line) > MAX_DAY_SEAL_LINE_BYTES:
        raise refuse(f"{len(line)} bytes, expected at most {MAX_DAY_SEAL_LINE_BYTES}")
    try:
        parsed = _SealLine.model_validate_json(line)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise refuse(first["msg"], _loc(first["loc"]) or None) from None
    try:
        raw = base64.b64decode(parsed.raw, validate=True)
    except binascii.Error as exc:
        raise refuse(f"not base64: {exc}", "raw") from None
    if base64.b64encode(raw).decode("ascii") != parsed.raw:
        raise refuse("not in canonical base64", "raw")
    if wire.day_seal_sha256(raw) != parsed.sha256:
        actual = wire.day_seal_sha256(raw)
        raise refuse(f"is {parsed.sha256[:12]}…, the bytes of raw hash to {actual[:12]}…", "sha256")
    try:
        seal = wire.decode_day_seal(raw)
    except wire.WireError as exc:
        raise refuse(f"not a day seal ({exc.code}): {exc}", "raw") from None
    found = BundleDaySeal(parsed.sha256, raw, seal)
    if _line_bytes(found) != line + b"\n":
        raise refuse("not in canonical form (sorted keys, no whitespace)")
    return found


def read_day_seals(data: bytes) -> list[BundleDaySeal]:
    """The seals of ``day-seals.jsonl`` (its bytes as read), in file order.

    Refuses, with a :class:`ProofFileError` naming the line: a line that is not the one form
    the writer gives, bad base64, a hash that is not the bytes', bytes that are not a day seal
    (its wire error), lines out of (agent, device, chain index, hash) order or repeated, a
    missing final newline. Does not check signatures, zones or chains: the verifier does, with
    the reviewer's plan.
    """
    if not data:
        return []
    if not data.endswith(b"\n"):
        raise ProofFileError(DAY_SEALS_NAME, "does not end with a newline (a cut file?)")
    seals: list[BundleDaySeal] = []
    for number, line in enumerate(data[:-1].split(b"\n"), start=1):
        seal = _seal_of_line(line, number)
        if seals and seal.order() <= seals[-1].order():
            raise ProofFileError(
                DAY_SEALS_NAME,
                f"{_order_text(seal)} comes after {_order_text(seals[-1])}: lines must be sorted "
                "by (agent, device, index, sha256), each once",
                line=number,
            )
        seals.append(seal)
    return seals


def _order_text(seal: BundleDaySeal) -> str:
    return f"{seal.seal.agent}/{seal.seal.device} index {seal.seal.index} ({seal.sha256[:12]}…)"


# --- agent-keys.json -----------------------------------------------------------------------


class BundleAgentKey(BaseModel):
    """A registered agent of the enterprise as the registry held it: id, key, devices, when
    added, when revoked (None: in force)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    agent: Identifier
    public_key: str = Field(pattern=r"^ed25519:[A-Za-z0-9+/]{43}=$")
    devices: list[Identifier]
    added_at: AwareDatetime
    revoked_at: AwareDatetime | None

    @field_validator("devices")
    @classmethod
    def _sorted_devices(cls, devices: list[str]) -> list[str]:
        if devices != sorted(set(devices)):
            raise ValueError("devices must be sorted, each once")
        return devices

    @field_validator("added_at", "revoked_at")
    @classmethod
    def _utc(cls, moment: dt.datetime | None) -> dt.datetime | None:
        if moment is not None and moment.utcoffset() != dt.timedelta(0):
            raise ValueError("must be UTC")
        return moment


class AgentKeysFile(BaseModel):
    """The content of ``agent-keys.json``: informational, never a trust root."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    format: Literal["retrofit-verify.agent-keys/1"] = AGENT_KEYS_FORMAT
    note: str = AGENT_KEYS_NOTE
    enterprise: Identifier
    agents: list[BundleAgentKey]

    @field_validator("note")
    @classmethod
    def _the_note(cls, note: str) -> str:
        if note != AGENT_KEYS_NOTE:
            raise ValueError(f"must be {AGENT_KEYS_NOTE!r}")
        return note

    @field_validator("agents")
    @classmethod
    def _sorted_agents(cls, agents: list[BundleAgentKey]) -> list[BundleAgentKey]:
        ids = [agent.agent for agent in agents]
        if ids != sorted(set(ids)):
            raise ValueError("agents must be sorted by agent, each once")
        return agents


def agent_keys_bytes(enterprise: str, agents: Iterable[BundleAgentKey]) -> bytes:
    """The bytes of ``agent-keys.json``: the agents sorted by id (JSON form of the manifest).

    Raises pydantic's ValidationError for a malformed agent or the same agent twice."""
    ordered = sorted(agents, key=lambda agent: agent.agent)
    return json_bytes(AgentKeysFile(enterprise=enterprise, agents=ordered))


def read_agent_keys(data: bytes) -> AgentKeysFile:
    """``agent-keys.json`` parsed; a :class:`ProofFileError` naming the field if malformed or
    not in the writer's byte form."""
    parsed = _parse(AGENT_KEYS_NAME, AgentKeysFile, data)
    _same_bytes(AGENT_KEYS_NAME, json_bytes(parsed), data)
    return parsed


# --- day-checks.json -----------------------------------------------------------------------


class BundleSealDifference(BaseModel):
    """One figure where the stored row and its seal disagree, with both values."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    field: StrictStr
    stored: FigureValue
    sealed: FigureValue


class BundleDayCheck(BaseModel):
    """The collector's outcome for one daily row (agent, device, provenance, local day).

    ``seal_sha256`` names the seal (the latest version of the day) it was checked against,
    null iff ``unsealed``; ``root_checked``: a rebuild of the windows' Merkle root (the refresh
    check) contributed, else only the sums were compared (the evidence gather).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    agent: Identifier
    device: Identifier
    provenance: Provenance
    day: dt.date
    outcome: Outcome
    seal_sha256: Sha256Hex | None
    differences: list[BundleSealDifference]
    root_checked: StrictBool

    @model_validator(mode="after")
    def _consistent(self) -> BundleDayCheck:
        if (self.outcome == "unsealed") != (self.seal_sha256 is None):
            raise ValueError(f"{self.outcome} with seal_sha256 {self.seal_sha256}")
        if (self.outcome == "sealed_different") != bool(self.differences):
            raise ValueError(f"{self.outcome} with {len(self.differences)} differences")
        return self

    def order(self) -> tuple[str, str, dt.date, str]:
        """Sort key of the file: (agent, device, day, provenance)."""
        return (self.agent, self.device, self.day, self.provenance)


class DayChecksFile(BaseModel):
    """The content of ``day-checks.json``: the collector's outcomes, re-derived by a verifier."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    format: Literal["retrofit-verify.day-checks/1"] = DAY_CHECKS_FORMAT
    enterprise: Identifier
    checks: list[BundleDayCheck]

    @field_validator("checks")
    @classmethod
    def _sorted_checks(cls, checks: list[BundleDayCheck]) -> list[BundleDayCheck]:
        keys = [check.order() for check in checks]
        if keys != sorted(set(keys)):
            raise ValueError("checks must be sorted by (agent, device, day, provenance), each once")
        return checks


def day_checks_bytes(enterprise: str, checks: Sequence[BundleDayCheck]) -> bytes:
    """The bytes of ``day-checks.json``: the checks sorted by (agent, device, day, provenance).

    Raises ValueError for a non-finite figure, pydantic's ValidationError for the same row
    twice or an inconsistent check."""
    document = DayChecksFile(enterprise=enterprise, checks=sorted(checks, key=BundleDayCheck.order))
    return _strict_json_bytes(document)


def read_day_checks(data: bytes) -> DayChecksFile:
    """``day-checks.json`` parsed; a :class:`ProofFileError` naming the field if malformed or
    not in the writer's byte form."""
    parsed = _parse(DAY_CHECKS_NAME, DayChecksFile, data)
    _same_bytes(DAY_CHECKS_NAME, _strict_json_bytes(parsed), data)
    return parsed


def _strict_json_bytes(model: BaseModel) -> bytes:
    # json_bytes, refusing NaN and infinity: a difference may hold a float figure.
    text = json.dumps(
        model.model_dump(mode="json"), sort_keys=True, ensure_ascii=False, indent=1, allow_nan=False
    )
    return (text + "\n").encode("utf-8")


# --- shared --------------------------------------------------------------------------------


def _loc(loc: tuple[int | str, ...]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


_Model = TypeVar("_Model", bound=BaseModel)


def _parse(name: str, model: type[_Model], data: bytes) -> _Model:
    try:
        return model.model_validate_json(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        raise ProofFileError(name, first["msg"] + more, field=_loc(first["loc"]) or None) from None


def _same_bytes(name: str, expected: bytes, data: bytes) -> None:
    if expected == data:
        return
    line = data[: _first_difference(expected, data)].count(b"\n") + 1
    raise ProofFileError(
        name, "not in the writer's form (sorted keys, one-space indent, final newline)", line=line
    )


def _first_difference(a: bytes, b: bytes) -> int:
    for index, (x, y) in enumerate(zip(a, b, strict=False)):
        if x != y:
            return index
    return min(len(a), len(b))
