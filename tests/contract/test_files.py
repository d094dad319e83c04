"""contract/files.py: a file the user named is read only if it is a regular file within the limit.

Every case is a real file of its kind: /dev/zero (endless), a FIFO with no writer (an open or a
read would block for ever), a directory, a regular file over the limit. The pytest timeout is a
safety net only: each case must be refused at once, whatever the machine's speed.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from contract.errors import InputFileError
from contract.files import open_regular, read_bounded

pytestmark = pytest.mark.timeout(30)

LIMIT = 1000


def test_a_regular_file_within_the_limit_is_read_whole(tmp_path: Path) -> None:
    path = tmp_path / "ok.bin"
    path.write_bytes(b"x" * LIMIT)
    assert read_bounded(path, LIMIT) == b"x" * LIMIT


def test_dev_zero_is_refused_as_a_character_device() -> None:
    with pytest.raises(InputFileError) as caught:
        read_bounded(Path("/dev/zero"), LIMIT, expected="a message file")
    assert caught.value.reason == "not_regular"
    assert str(caught.value) == (
        "/dev/zero: not a regular file (a character device), expected a message file"
    )


def test_a_fifo_is_refused_without_waiting_for_a_writer(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(InputFileError) as caught:
        read_bounded(fifo, LIMIT)
    assert caught.value.reason == "not_regular"
    assert caught.value.detail == "not a regular file (a FIFO), expected a file"


def test_a_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InputFileError) as caught:
        read_bounded(tmp_path, LIMIT, expected="a CSV file")
    assert caught.value.reason == "directory"
    assert caught.value.detail == "is a directory, expected a CSV file"


def test_a_regular_file_over_the_limit_is_refused_before_it_is_read(tmp_path: Path) -> None:
    path = tmp_path / "big.bin"
    with path.open("wb") as stream:  # sparse: no disk space used
        stream.truncate(50 * 1024**3)
    with pytest.raises(InputFileError) as caught:
        read_bounded(path, LIMIT)
    assert caught.value.reason == "too_large"
    assert caught.value.detail == f"{50 * 1024**3:,} bytes, more than the limit of {LIMIT:,}"


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(InputFileError) as caught:
        read_bounded(tmp_path / "nope", LIMIT)
    assert caught.value.reason == "missing"
    assert str(caught.value) == f"{tmp_path / 'nope'}: no such file"


def test_an_unreadable_file_is_named(tmp_path: Path) -> None:
    if os.geteuid() == 0:
        pytest.skip("root reads a file whatever its mode")
    path = tmp_path / "secret"
    path.write_bytes(b"x")
    path.chmod(0)
    with pytest.raises(InputFileError) as caught:
        read_bounded(path, LIMIT)
    assert caught.value.reason == "unreadable"


def test_open_regular_refuses_the_same_and_streams_a_regular_file(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(InputFileError, match="a FIFO"):
        open_regular(fifo, LIMIT)
    path = tmp_path / "ok.csv"
    path.write_bytes(b"a,b\n1,2\n")
    with open_regular(path, LIMIT) as stream:
        assert stream.readline() == b"a,b\n"


@pytest.mark.parametrize("kind", ["fifo", "not_json"])
def test_status_refuses_a_health_file_it_cannot_read_as_one(tmp_path: Path, kind: str) -> None:
    # `retrofit-agent status --health-file` read_text()'d it: a FIFO hung, bad JSON a traceback.
    from typer.testing import CliRunner

    from agent.cli import app

    config = tmp_path / "agent.yaml"
    config.write_text(
        "agent: {id: a, platform: p, enterprise: e, key_path: agent.key, "
        f"outbox_path: {tmp_path / 'outbox.sqlite'}}}\n"
        "broker: {host: 127.0.0.1}\n"
        "devices: [{id: d, protocol: modbus_tcp, host: 127.0.0.1, tags: {s: {role: state, "
        "register_type: holding, address: 0, state_map: {1: running}}}}]\n",
        encoding="utf-8",
    )
    health = tmp_path / "health.json"
    if kind == "fifo":
        os.mkfifo(health)
    else:
        health.write_text("[1, 2", encoding="utf-8")

    result = CliRunner().invoke(app, ["status", str(config), "--health-file", str(health)])

    assert result.exit_code == 2, result.output
    assert ("a FIFO" if kind == "fifo" else "not a health file") in result.output
