"""`retrofit-collector verify-message`: a reviewer's check of one captured message."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from agent import wire
from tests.agent.test_wire import KEY, make_envelope

COLLECTOR = str(Path(sys.executable).with_name("retrofit-collector"))


def run(message: Path, key_text: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [COLLECTOR, "verify-message", str(message), "--public-key", key_text],
        capture_output=True,
        text=True,
        check=False,
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
