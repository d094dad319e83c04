"""``retrofit-agent status`` and the health file: the newest sealed day and the days waiting."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import yaml

from agent.config import load_config
from agent.keys import generate_key_pair
from agent.outbox import Outbox
from agent.service import AgentService
from tests.agent.test_day_ledger import DAY_START, day_sealer, drain, hours

BIN = Path(sys.executable).parent


def write_config(tmp_path: Path) -> Path:
    key = tmp_path / "agent.key"
    generate_key_pair(key)
    config = {
        "agent": {"id": "gw-01", "platform": "plat-a", "enterprise": "ent-01",
                  "key_path": str(key), "outbox_path": str(tmp_path / "outbox.sqlite"),
                  "timezone": "Asia/Shanghai", "seal_grace_s": 300},
        "broker": {"host": "127.0.0.1"},
        "devices": [
            {"id": device, "protocol": "modbus_tcp", "host": "127.0.0.1",
             "tags": {"count": {"role": "total_count", "register_type": "holding",
                                "address": 2, "data_type": "uint32", "width": 32}}}
            for device in ("press-1", "press-2")
        ],
    }  # fmt: skip
    path = tmp_path / "agent.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def fill_outbox(path: Path) -> None:
    """press-1: 2026-11-25 sealed, the 26th cut off at 10:00 (the agent was stopped then)."""
    outbox = Outbox(path)
    outbox.add_windows(hours("press-1", DAY_START, 34))
    drain(outbox)
    sealed = outbox.seal_days(
        now=(DAY_START + timedelta(days=3)).timestamp(),
        grace_s=300,
        devices={"press-1", "press-2"},
        make_day_seal=day_sealer,
    )
    assert len(sealed) == 1
    outbox.close()


def test_status_shows_the_newest_sealed_day_and_why_the_others_wait(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    fill_outbox(tmp_path / "outbox.sqlite")
    shown = subprocess.run(
        [str(BIN / "retrofit-agent"), "status", str(config)],
        capture_output=True,
        text=True,
        check=False,
        env={"COLUMNS": "200", "PATH": ""},
    )
    assert shown.returncode == 0, shown.stderr
    rows = {line.split()[1]: line for line in shown.stdout.splitlines() if "press-" in line}
    assert "2026-11-25 (v1)" in rows["press-1"]
    assert "2026-11-26 (progress)" in rows["press-1"]
    assert "none yet" in rows["press-2"]
    assert "days in Asia/Shanghai" in shown.stdout


def test_the_health_file_carries_the_same(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    fill_outbox(tmp_path / "outbox.sqlite")
    service = AgentService(load_config(config))
    try:
        seals = service.health()["day_seals"]
    finally:
        service.outbox.close()
    assert seals == {
        "timezone": "Asia/Shanghai",
        "acked": 0,
        "devices": {
            "press-1": {
                "newest_day": "2026-11-25",
                "newest_version": 1,
                "waiting": {"2026-11-26": "progress"},
            },
            "press-2": {"newest_day": None, "newest_version": None, "waiting": {}},
        },
    }
