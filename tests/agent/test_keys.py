"""`retrofit-agent keygen` and the key files it writes."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from agent.keys import (
    KeyFileError,
    generate_key_pair,
    load_private_key,
    load_signing_key,
    public_key_path,
)
from contract import wire

AGENT = str(Path(sys.executable).with_name("retrofit-agent"))


def test_keygen_writes_a_private_key_only_its_owner_reads(tmp_path: Path) -> None:
    key_path = tmp_path / "keys" / "agent.key"
    result = subprocess.run(
        [AGENT, "keygen", "--out", str(key_path)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600
    printed = result.stdout.strip().splitlines()[-1]
    assert printed == public_key_path(key_path).read_text().strip()
    # The printed key is the registry's form, and it is the pair of the private key.
    key = load_private_key(key_path)
    assert wire.public_key_text(key.public_key()) == printed
    assert wire.public_key_from_text(printed)


def test_keygen_refuses_to_overwrite_without_force(tmp_path: Path) -> None:
    key_path = tmp_path / "agent.key"
    first = generate_key_pair(key_path)
    result = subprocess.run(
        [AGENT, "keygen", "--out", str(key_path)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 1
    assert "already exists" in result.stderr and "--force" in result.stderr
    assert "Traceback" not in result.stderr
    assert wire.public_key_text(load_private_key(key_path).public_key()) == first
    second = generate_key_pair(key_path, force=True)
    assert second != first
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600


def test_loading_refuses_keys_others_can_read(tmp_path: Path) -> None:
    key_path = tmp_path / "agent.key"
    generate_key_pair(key_path)
    key_path.chmod(0o644)
    with pytest.raises(KeyFileError, match="chmod 600"):
        load_private_key(key_path)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "does not exist"),
        (b"not a key", "not an unencrypted PEM"),
        (b"x" * 20_000, "too large"),
    ],
)
def test_loading_bad_key_files_says_what_is_wrong(
    tmp_path: Path, content: bytes | None, message: str
) -> None:
    key_path = tmp_path / "agent.key"
    if content is not None:
        key_path.write_bytes(content)
        key_path.chmod(0o600)
    with pytest.raises(KeyFileError, match=message):
        load_private_key(key_path)


@pytest.mark.timeout(30)  # a safety net: a FIFO must be refused, never waited on
def test_a_fifo_or_device_in_place_of_the_key_is_refused(tmp_path: Path) -> None:
    fifo = tmp_path / "agent.key"
    os.mkfifo(fifo, 0o600)
    with pytest.raises(KeyFileError, match="not a regular file"):
        load_private_key(fifo)
    with pytest.raises(KeyFileError, match="not a regular file"):
        load_private_key(Path("/dev/zero"))


def test_the_running_agent_signs_with_the_key_keygen_wrote(tmp_path: Path) -> None:
    # The service loads its key through libcrypto (no cryptography on the run path); what it
    # signs must verify under the public key keygen printed.
    key_path = tmp_path / "agent.key"
    public = generate_key_pair(key_path)
    signature = load_signing_key(key_path).sign(b"window bytes")
    wire.public_key_from_text(public).verify(signature, b"window bytes")
    assert signature == load_private_key(key_path).sign(b"window bytes")
