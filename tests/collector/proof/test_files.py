"""`collector.proof.files`: the three proof files written, read back, and refused when hostile.

The seals are real ones (signed by `tests.collector.seal_helpers.SealChain` over windows made
with the fault harness), so a line carries the exact bytes an agent publishes.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
from collections.abc import Callable
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from collector.proof import (
    AGENT_KEYS_NOTE,
    DAY_SEALS_NAME,
    MAX_DAY_SEAL_LINE_BYTES,
    BundleAgentKey,
    BundleDayCheck,
    BundleDaySeal,
    BundleSealDifference,
    ProofFileError,
    agent_keys_bytes,
    bundle_day_seal,
    day_checks_bytes,
    day_seals_bytes,
    read_agent_keys,
    read_day_checks,
    read_day_seals,
)
from contract import wire
from tests.collector.faults.harness import window
from tests.collector.seal_helpers import SealChain

KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
DAY1, DAY2 = dt.date(2026, 6, 1), dt.date(2026, 6, 2)
T0 = dt.datetime(2026, 5, 1, 8, 0, tzinfo=dt.UTC)
#: An edit of a parsed JSON document, for the tables of hostile files.
Edit = Callable[[dict[str, Any]], object]


def _windows(device: str, day: dt.date, first_seq: int) -> list[tuple[int, wire.KpiWindow]]:
    start = dt.datetime(day.year, day.month, day.day, 2, 0, tzinfo=dt.UTC)
    return [(first_seq + n, window(device, start + dt.timedelta(minutes=n))) for n in range(3)]


def _seals() -> list[BundleDaySeal]:
    """Two devices' chains: press-1 days 1, 2 and day 1 again (version 2); press-2 day 1."""
    press1 = SealChain(KEY, "plat-a", "ent-01", "gw-01", "press-1")
    press2 = SealChain(KEY, "plat-a", "ent-01", "gw-01", "press-2")
    raws = [
        press1.seal(DAY1, _windows("press-1", DAY1, 1), seq=10),
        press1.seal(DAY2, _windows("press-1", DAY2, 20), seq=30),
        press1.seal(DAY1, _windows("press-1", DAY1, 1) + _windows("press-1", DAY1, 40), seq=50),
        press2.seal(DAY1, _windows("press-2", DAY1, 60), seq=70),
    ]
    return [bundle_day_seal(raw) for raw in raws]


def _refused(data: bytes) -> ProofFileError:
    with pytest.raises(ProofFileError) as caught:
        read_day_seals(data)
    assert caught.value.file == DAY_SEALS_NAME
    return caught.value


# --- day-seals.jsonl -------------------------------------------------------------------------


def test_day_seals_round_trip_byte_for_byte_in_chain_order() -> None:
    seals = _seals()
    data = day_seals_bytes(reversed(seals + seals[:1]))  # any order, one seal given twice
    assert data == day_seals_bytes(seals)
    back = read_day_seals(data)
    assert [(s.seal.device, s.seal.index) for s in back] == [
        ("press-1", 1), ("press-1", 2), ("press-1", 3), ("press-2", 1)
    ]  # fmt: skip
    assert back == seals
    for seal, line in zip(back, data.splitlines(), strict=True):
        fields = json.loads(line)
        assert sorted(fields) == ["raw", "sha256"]
        assert base64.b64decode(fields["raw"]) == seal.raw  # the bytes as published, signature too
        assert fields["sha256"] == hashlib.sha256(seal.raw).hexdigest() == seal.sha256
        wire.verify(seal.seal, KEY.public_key())  # raises if the bytes changed


def test_no_seals_is_an_empty_file() -> None:
    assert day_seals_bytes([]) == b""
    assert read_day_seals(b"") == []


def _line(raw: bytes, sha256: str | None = None) -> bytes:
    text = base64.b64encode(raw).decode("ascii")
    return wire.canonical_bytes({"raw": text, "sha256": sha256 or wire.day_seal_sha256(raw)})


def test_a_seal_whose_hash_is_not_its_bytes_is_refused_on_its_line() -> None:
    seals = _seals()
    lines = day_seals_bytes(seals).splitlines(keepends=True)
    edited = seals[1].raw.replace(b'"day":"2026-06-02"', b'"day":"2026-06-03"')
    lines[1] = _line(edited, sha256=seals[1].sha256) + b"\n"
    error = _refused(b"".join(lines))
    assert (error.line, error.field) == (2, "sha256")
    assert str(error).startswith("day-seals.jsonl:2 sha256: is ")


def test_edited_seal_bytes_with_their_new_hash_are_read_for_the_verifier_to_judge() -> None:
    # The file is well formed; the seal's signature no longer verifies: the verifier's finding.
    seals = _seals()
    edited = seals[3].raw.replace(b'"day":"2026-06-01"', b'"day":"2026-06-03"')
    data = day_seals_bytes([*seals[:3], bundle_day_seal(edited)])
    back = read_day_seals(data)
    assert back[3].seal.day == dt.date(2026, 6, 3)
    with pytest.raises(wire.BadSignature):
        wire.verify(back[3].seal, KEY.public_key())


@pytest.mark.parametrize(
    ("line", "field", "detail"),
    [
        (b"not json", None, "Invalid JSON"),
        (b"{}", "raw", "Field required"),
        (b'{"raw":"","sha256":"' + b"a" * 64 + b'","x":1}', "x", "Extra inputs"),
        (b'{"raw":1,"sha256":"' + b"a" * 64 + b'"}', "raw", "valid string"),
        (b'{"raw":"","sha256":"ABC"}', "sha256", "pattern"),
        (b'{"raw":"%%%%","sha256":"' + b"a" * 64 + b'"}', "raw", "not base64"),
        (b'{"raw":"QR==","sha256":"' + b"a" * 64 + b'"}', "raw", "canonical base64"),
        (_line(b'{"kind":"day_seal"}'), "raw", "not a day seal"),
        (_line(b"\x00\xff binary"), "raw", "not a day seal"),
    ],
)
def test_a_malformed_line_is_refused_naming_line_and_field(
    line: bytes, field: str | None, detail: str
) -> None:
    first = day_seals_bytes(_seals()[:1])
    error = _refused(first + line + b"\n")
    assert (error.line, error.field) == (2, field)
    assert detail in error.detail


def test_a_line_not_in_canonical_form_is_refused() -> None:
    seal = _seals()[0]
    spaced = json.dumps({"sha256": seal.sha256, "raw": base64.b64encode(seal.raw).decode()})
    error = _refused(spaced.encode() + b"\n")
    assert error.line == 1 and "canonical form" in error.detail


@pytest.mark.parametrize(
    ("order", "line"), [((1, 0, 2, 3), 2), ((0, 1, 1, 2), 3), ((0, 1, 3, 2), 4)]
)
def test_lines_out_of_order_or_repeated_are_refused(order: tuple[int, ...], line: int) -> None:
    seals = _seals()
    data = b"".join(_line(seals[n].raw) + b"\n" for n in order)
    error = _refused(data)
    assert error.line == line and "must be sorted" in error.detail


def test_a_cut_file_a_blank_line_and_an_oversized_line_are_refused() -> None:
    data = day_seals_bytes(_seals())
    assert "newline" in _refused(data[:-1]).detail
    assert _refused(data + b"\n").line == 5
    huge = b'{"raw":"' + b"A" * MAX_DAY_SEAL_LINE_BYTES + b'","sha256":"' + b"a" * 64 + b'"}\n'
    error = _refused(huge)
    assert error.line == 1 and "at most" in error.detail


# --- agent-keys.json ---------------------------------------------------------------------------

AGENTS = [
    BundleAgentKey(
        agent="gw-02",
        public_key=wire.public_key_text(KEY.public_key()),
        devices=["oven-1"],
        added_at=T0,
        revoked_at=T0 + dt.timedelta(days=3),
    ),
    BundleAgentKey(
        agent="gw-01",
        public_key=wire.public_key_text(KEY.public_key()),
        devices=["press-1", "press-2"],
        added_at=T0,
        revoked_at=None,
    ),
]


def test_agent_keys_round_trip_sorted_and_say_they_are_no_trust_root() -> None:
    data = agent_keys_bytes("ent-01", AGENTS)
    parsed = read_agent_keys(data)
    assert [a.agent for a in parsed.agents] == ["gw-01", "gw-02"]
    assert parsed.note == AGENT_KEYS_NOTE and "never a trust root" in data.decode()
    assert json.loads(data)["agents"][1]["revoked_at"] == "2026-05-04T08:00:00Z"
    assert agent_keys_bytes("ent-01", reversed(AGENTS)) == data


@pytest.mark.parametrize(
    ("edit", "field"),
    [
        (lambda doc: doc.update(note="trust me"), "note"),
        (lambda doc: doc["agents"][0].update(public_key="ed25519:short="), "agents[0].public_key"),
        (lambda doc: doc["agents"][1].update(added_at="2026-05-01T08:00:00"), "agents[1].added_at"),
        (lambda doc: doc["agents"][0].update(devices=["press-2", "press-1"]), "agents[0].devices"),
        (lambda doc: doc["agents"].reverse(), "agents"),
        (lambda doc: doc.update(format="retrofit-verify.agent-keys/2"), "format"),
    ],
)
def test_a_hostile_agent_keys_file_is_refused_naming_the_field(edit: Edit, field: str) -> None:
    document = json.loads(agent_keys_bytes("ent-01", AGENTS))
    edit(document)
    with pytest.raises(ProofFileError) as caught:
        read_agent_keys(json.dumps(document, sort_keys=True, indent=1).encode() + b"\n")
    assert caught.value.field == field
    assert str(caught.value).startswith(f"agent-keys.json {field}: ")


def test_agent_keys_not_in_the_writers_form_are_refused_with_the_line() -> None:
    data = agent_keys_bytes("ent-01", AGENTS)
    with pytest.raises(ProofFileError, match=r"agent-keys.json:1: not in the writer's form"):
        read_agent_keys(json.dumps(json.loads(data)).encode())


# --- day-checks.json ---------------------------------------------------------------------------


LAST_END = "2026-06-02T16:00:00.000Z"


def _checks() -> list[BundleDayCheck]:
    seal = "c" * 64
    return [
        BundleDayCheck(
            agent="gw-01", device="press-1", provenance="measured", day=DAY2,
            outcome="sealed_different", seal_sha256=seal, root_checked=False,
            differences=[
                BundleSealDifference(field="run_s", stored=28800.0, sealed=27000.0),
                BundleSealDifference(field="windows", stored=0, sealed=96),
                BundleSealDifference(field="overflowed", stored=[], sealed=["good_count"]),
                BundleSealDifference(field="last_end", stored=None, sealed=LAST_END),
            ],
        ),
        BundleDayCheck(
            agent="gw-01", device="press-1", provenance="measured", day=DAY1,
            outcome="sealed_equal", seal_sha256=seal, root_checked=True, differences=[],
        ),
        BundleDayCheck(
            agent="gw-01", device="press-1", provenance="imported", day=DAY1,
            outcome="unsealed", seal_sha256=None, root_checked=False, differences=[],
        ),
    ]  # fmt: skip


def test_day_checks_round_trip_sorted_with_every_value_kind() -> None:
    data = day_checks_bytes("ent-01", _checks())
    parsed = read_day_checks(data)
    assert [(c.day, c.provenance) for c in parsed.checks] == [
        (DAY1, "imported"), (DAY1, "measured"), (DAY2, "measured")
    ]  # fmt: skip
    values = [(d.stored, d.sealed) for d in parsed.checks[2].differences]
    assert values == [(28800.0, 27000.0), (0, 96), ([], ["good_count"]), (None, values[3][1])]
    assert isinstance(values[1][0], int) and isinstance(values[0][0], float)
    assert day_checks_bytes("ent-01", parsed.checks) == data


def test_day_checks_refuse_a_figure_that_is_not_finite() -> None:
    check = _checks()[0]
    bad = check.model_copy(
        update={
            "differences": [
                BundleSealDifference.model_construct(field="run_s", stored=float("nan"), sealed=1.0)
            ]
        }
    )
    with pytest.raises(ValueError, match="not JSON compliant"):
        day_checks_bytes("ent-01", [bad])


@pytest.mark.parametrize(
    ("edit", "field", "detail"),
    [
        (
            lambda doc: doc["checks"][0].update(outcome="sealed_equal"),
            "checks[0]",
            "with seal_sha256 None",
        ),
        (lambda doc: doc["checks"][2].update(differences=[]), "checks[2]", "0 differences"),
        (lambda doc: doc["checks"][2].update(day="2026-02-30"), "checks[2].day", "date"),
        (
            lambda doc: doc["checks"][2].update(provenance="forged"),
            "checks[2].provenance",
            "'imported'",
        ),
        (lambda doc: doc["checks"].append(doc["checks"][0]), "checks", "each once"),
        (lambda doc: doc.update(enterprise="../x"), "enterprise", "pattern"),
    ],
)
def test_a_hostile_day_checks_file_is_refused_naming_the_field(
    edit: Edit, field: str, detail: str
) -> None:
    document = json.loads(day_checks_bytes("ent-01", _checks()))
    edit(document)
    data = json.dumps(document, sort_keys=True, indent=1, ensure_ascii=False).encode() + b"\n"
    with pytest.raises(ProofFileError) as caught:
        read_day_checks(data)
    assert caught.value.field == field
    assert detail in caught.value.detail


def test_day_checks_with_a_nan_figure_are_refused() -> None:
    text = day_checks_bytes("ent-01", _checks()).decode().replace("28800.0", "NaN")
    with pytest.raises(ProofFileError) as caught:
        read_day_checks(text.encode())
    assert caught.value.field is not None
    assert caught.value.field.startswith("checks[2].differences[0].stored")


def test_day_checks_that_are_not_json_are_refused() -> None:
    with pytest.raises(ProofFileError, match=r"^day-checks.json: Invalid JSON"):
        read_day_checks(b'{"checks": [')
