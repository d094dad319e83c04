"""`retrofit-collector verify-message`: a reviewer's check of one captured message."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from contract import wire
from tests.contract.test_wire import KEY, make_envelope

COLLECTOR = str(Path(sys.executable).with_name("retrofit-collector"))


#: Address space of the command in these tests: a safety net, so that a command reading a file
#: without bound fails with MemoryError here instead of taking the machine's memory (#14).
ADDRESS_SPACE_BYTES = 1 << 30


def cap_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE_BYTES, ADDRESS_SPACE_BYTES))


def run(message: Path, key_text: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [COLLECTOR, "verify-message", str(message), "--public-key", key_text],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,  # a safety net only: a FIFO once made the command wait for ever
        preexec_fn=cap_memory,
    )


def test_valid_message_passes_and_forgery_is_named(tmp_path: Path) -> None:
    message = tmp_path / "msg.json"
    message.write_bytes(wire.encode(make_envelope(seq=5)))
    good = run(message, wire.public_key_text(KEY.public_key()))
    assert good.returncode == 0, good.stdout + good.stderr
    assert "seq 5" in good.stdout

    other = wire.public_key_text(Ed25519PrivateKey.generate().public_key())
    wrong_key = run(message, other)
    assert wrong_key.returncode == 1
    assert "bad_signature" in wrong_key.stdout

    message.write_bytes(message.read_bytes().replace(b'"run_s":48.5', b'"run_s":-48.5'))
    invalid = run(message, wire.public_key_text(KEY.public_key()))
    assert invalid.returncode == 1
    assert "records[0].run_s" in invalid.stdout
    assert "Traceback" not in invalid.stdout + invalid.stderr


def test_unreadable_inputs_exit_2(tmp_path: Path) -> None:
    key_text = wire.public_key_text(KEY.public_key())
    assert run(tmp_path / "missing.json", key_text).returncode == 2
    message = tmp_path / "msg.json"
    message.write_bytes(b"{}")
    assert run(message, "ed25519:nonsense").returncode == 2


@pytest.mark.parametrize(
    ("kind", "detail"),
    [
        ("dev_zero", "not a regular file (a character device), expected a captured message"),
        ("fifo", "not a regular file (a FIFO), expected a captured message"),
        ("directory", "is a directory, expected a captured message"),
    ],
)
def test_a_message_that_is_not_a_regular_file_is_refused_at_once(
    tmp_path: Path, kind: str, detail: str
) -> None:
    # /dev/zero grew the command to 23 GB before the kernel killed it; a FIFO hung it (#14).
    path = {"dev_zero": Path("/dev/zero"), "fifo": tmp_path / "pipe", "directory": tmp_path}[kind]
    if kind == "fifo":
        os.mkfifo(path)

    result = run(path, wire.public_key_text(KEY.public_key()))

    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr == f"error: {path}: {detail}\n"
    assert result.stdout == ""


def test_a_message_file_over_the_wire_limit_is_rejected_unread(tmp_path: Path) -> None:
    message = tmp_path / "huge.json"
    with message.open("wb") as stream:  # sparse: no disk space used, 4 GiB to read
        stream.truncate(4 << 30)

    result = run(message, wire.public_key_text(KEY.public_key()))

    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stdout == (
        f"rejected (too_large): {4 << 30:,} bytes, more than the limit of "
        f"{wire.MAX_MESSAGE_BYTES:,}\n"
    )
