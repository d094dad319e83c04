"""TOTP against RFC 6238 Appendix B, and the replay and drift rules of matching_step."""

from __future__ import annotations

import base64

import pytest

from collector.accounts import matching_step, new_totp_secret, provisioning_uri, totp_at
from collector.accounts.totp import hotp

# RFC 6238 Appendix B: the seeds are ASCII digits, 20, 32 and 64 bytes for each hash.
_SEEDS = {
    "sha1": b"12345678901234567890",
    "sha256": b"12345678901234567890123456789012",
    "sha512": b"1234567890123456789012345678901234567890123456789012345678901234",
}
_VECTORS = [
    (59, "94287082", "46119246", "90693936"),
    (1111111109, "07081804", "68084774", "25091201"),
    (1111111111, "14050471", "67062674", "99943326"),
    (1234567890, "89005924", "91819424", "93441116"),
    (2000000000, "69279037", "90698825", "38618901"),
    (20000000000, "65353130", "77737706", "47863826"),
]


@pytest.mark.parametrize(("unix_s", "sha1", "sha256", "sha512"), _VECTORS)
def test_rfc6238_appendix_b(unix_s: int, sha1: str, sha256: str, sha512: str) -> None:
    for digest, expected in (("sha1", sha1), ("sha256", sha256), ("sha512", sha512)):
        assert totp_at(_SEEDS[digest], unix_s, digits=8, digest=digest) == expected


def test_rfc4226_appendix_d_first_counters() -> None:
    # RFC 4226 Appendix D: HOTP of the 20-byte seed, counters 0..2.
    codes = [hotp(_SEEDS["sha1"], counter) for counter in range(3)]
    assert codes == ["755224", "287082", "359152"]


def _secret_of(seed: bytes) -> str:
    return base64.b32encode(seed).decode().rstrip("=")


def test_a_code_matches_its_step_within_one_step_of_now() -> None:
    secret = _secret_of(_SEEDS["sha1"])
    code = totp_at(_SEEDS["sha1"], 1111111111)  # step 37037037
    assert matching_step(secret, code, 1111111111, after_step=0) == 37037037
    assert matching_step(secret, code, 1111111111 + 30, after_step=0) == 37037037
    assert matching_step(secret, code, 1111111111 + 90, after_step=0) is None
    assert matching_step(secret, f" {code[:3]} {code[3:]} ", 1111111111, after_step=0) is not None


def test_a_used_step_is_a_replay() -> None:
    secret = _secret_of(_SEEDS["sha1"])
    code = totp_at(_SEEDS["sha1"], 1111111111)
    assert matching_step(secret, code, 1111111111, after_step=37037037) is None


@pytest.mark.parametrize("code", ["", "12345", "1234567", "abcdef", "１２３４５６"])
def test_malformed_codes_match_nothing(code: str) -> None:
    assert matching_step(new_totp_secret(), code, 1111111111, after_step=0) is None


def test_secret_and_uri() -> None:
    secret = new_totp_secret()
    assert len(base64.b32decode(secret)) == 20
    uri = provisioning_uri(secret, "李审核")
    assert uri.startswith("otpauth://totp/retrofit-verify:%E6%9D%8E")
    assert f"secret={secret}" in uri and "issuer=retrofit-verify" in uri
