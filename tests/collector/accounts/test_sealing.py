"""TOTP secrets sealed at rest: AES-256-GCM bound to the user, a key file of mode 0600 or
refused, rotation by key id, and plain secrets from before sealing still opened."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from collector.accounts import (
    SEALED_PREFIX,
    TotpKeyError,
    TotpSealer,
    load_totp_key,
    needs_reseal,
    new_totp_secret,
    write_totp_key,
)


def _key(tmp_path: Path, name: str = "totp.key") -> Path:
    path = tmp_path / name
    write_totp_key(path)
    return path


def test_a_sealed_secret_opens_for_its_user_only(tmp_path: Path) -> None:
    sealer = TotpSealer.from_files(_key(tmp_path))
    secret = new_totp_secret()
    sealed = sealer.seal(secret, "rev-1")
    assert sealed.startswith(f"{SEALED_PREFIX}{sealer.key_id}:") and secret not in sealed
    assert sealer.seal(secret, "rev-1") != sealed  # a fresh nonce each time
    assert sealer.open(sealed, "rev-1") == secret
    with pytest.raises(TotpKeyError, match="does not open"):
        sealer.open(sealed, "rev-2")  # copied onto another account's row
    flipped = sealed[:-2] + ("A" if sealed[-2] != "A" else "B") + sealed[-1]
    with pytest.raises(TotpKeyError, match="does not open"):
        sealer.open(flipped, "rev-1")


def test_the_key_file_is_written_0600_and_refused_when_others_may_read_it(tmp_path: Path) -> None:
    path = _key(tmp_path)
    assert path.stat().st_mode & 0o777 == 0o600
    assert len(load_totp_key(path)) == 32
    with pytest.raises(TotpKeyError, match="never overwritten"):
        write_totp_key(path)
    path.chmod(0o640)
    with pytest.raises(TotpKeyError, match="chmod 600"):
        load_totp_key(path)


@pytest.mark.parametrize(
    "content", [b"", b"not base64!\n", base64.b64encode(b"x" * 16) + b"\n", b"A" * 5000]
)
def test_a_malformed_key_file_is_refused(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "bad.key"
    path.write_bytes(content)
    path.chmod(0o600)
    with pytest.raises(TotpKeyError, match="expected 32 bytes as base64"):
        load_totp_key(path)


def test_a_missing_key_file_says_how_to_make_one(tmp_path: Path) -> None:
    with pytest.raises(TotpKeyError, match="retrofit-collector users totp-key"):
        load_totp_key(tmp_path / "none.key")


def test_rotation_opens_with_the_old_key_and_reseals_with_the_new(tmp_path: Path) -> None:
    old, new = _key(tmp_path, "old.key"), _key(tmp_path, "new.key")
    before = TotpSealer.from_files(old)
    sealed = before.seal("JBSWY3DPEHPK3PXP", "rev-1")
    after = TotpSealer.from_files(new, [old])
    assert needs_reseal(sealed, after) and not needs_reseal(sealed, before)
    assert after.open(sealed, "rev-1") == "JBSWY3DPEHPK3PXP"
    assert not needs_reseal(after.seal("JBSWY3DPEHPK3PXP", "rev-1"), after)
    with pytest.raises(TotpKeyError, match=r"not in web\.totp_key_path"):
        TotpSealer.from_files(new).open(sealed, "rev-1")  # the old key dropped too soon


def test_a_plain_secret_from_before_sealing_still_opens(tmp_path: Path) -> None:
    sealer = TotpSealer.from_files(_key(tmp_path))
    assert sealer.open("JBSWY3DPEHPK3PXP", "rev-1") == "JBSWY3DPEHPK3PXP"
    assert needs_reseal("JBSWY3DPEHPK3PXP", sealer)
