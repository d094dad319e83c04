"""Signing through libcrypto (contract.ed25519) against cryptography, and the key loader's paths."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from contract.ed25519 import OpenSslEd25519Key, openssl_key, pkcs8_seed
from contract.errors import KeyFileError
from contract.keys import load_private_key, load_signing_key


def _pem(key: Ed25519PrivateKey, encryption: serialization.KeySerializationEncryption) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
    )


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    path.chmod(0o600)
    return path


@settings(max_examples=200, deadline=None)
@given(st.binary(min_size=32, max_size=32), st.binary(max_size=4096))
def test_signatures_are_byte_for_byte_cryptographys(seed: bytes, message: bytes) -> None:
    # Ed25519 is deterministic (RFC 8032): the same key signs the same message one way only.
    reference = Ed25519PrivateKey.from_private_bytes(seed)
    lean = openssl_key(_pem(reference, serialization.NoEncryption()))
    assert isinstance(lean, OpenSslEd25519Key)
    signature = lean.sign(message)
    assert signature == reference.sign(message)
    reference.public_key().verify(signature, message)  # raises InvalidSignature otherwise
    assert lean.public_bytes_raw() == reference.public_key().public_bytes_raw()


def test_only_keygens_plain_pkcs8_goes_through_libcrypto() -> None:
    key = Ed25519PrivateKey.generate()
    plain = _pem(key, serialization.NoEncryption())
    assert pkcs8_seed(plain) == key.private_bytes_raw()
    assert pkcs8_seed(plain.replace(b"\n", b"\r\n")) == key.private_bytes_raw()
    encrypted = _pem(key, serialization.BestAvailableEncryption(b"secret"))
    raw_openssh = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.OpenSSH,
        serialization.NoEncryption(),
    )
    for other in (
        encrypted,
        raw_openssh,
        b"",
        b"not a key",
        plain[:-40],
        plain.replace(b"M", b"!"),
    ):
        assert openssl_key(other) is None


def test_a_seed_of_the_wrong_length_is_refused() -> None:
    key = openssl_key(_pem(Ed25519PrivateKey.generate(), serialization.NoEncryption()))
    assert key is not None
    with pytest.raises(ValueError, match="32 bytes, got 31"):
        OpenSslEd25519Key(key._library, os.urandom(31))


def test_the_signing_loader_falls_back_to_cryptography_with_the_same_messages(
    tmp_path: Path,
) -> None:
    key = Ed25519PrivateKey.generate()
    plain = _write(tmp_path / "plain.key", _pem(key, serialization.NoEncryption()))
    assert isinstance(load_signing_key(plain, create_with="-"), OpenSslEd25519Key)

    # Any other file is read by cryptography, which says what is wrong, as it always did.
    encrypted = _write(
        tmp_path / "encrypted.key", _pem(key, serialization.BestAvailableEncryption(b"pw"))
    )
    for path in (encrypted, _write(tmp_path / "junk.key", b"junk")):
        with pytest.raises(KeyFileError) as lean_error:
            load_signing_key(path, create_with="-")
        with pytest.raises(KeyFileError) as full_error:
            load_private_key(path, create_with="-")
        assert str(lean_error.value) == str(full_error.value)
        assert "is not an unencrypted PEM private key" in str(lean_error.value)

    open_to_all = _write(tmp_path / "open.key", _pem(key, serialization.NoEncryption()))
    open_to_all.chmod(0o644)
    with pytest.raises(KeyFileError, match="chmod 600"):
        load_signing_key(open_to_all, create_with="-")
    with pytest.raises(KeyFileError, match="create it with: retrofit-agent keygen"):
        load_signing_key(tmp_path / "missing.key", create_with="retrofit-agent keygen")
