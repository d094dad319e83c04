"""deploy/agent/install.sh into a throw-away root, and the systemd unit it installs.

No systemd runs here (and nothing may be installed on this machine for real), so the installer
runs with ``--root DIR``: the same steps (useradd --root, a real venv with ``.[agent]`` from
PyPI, /etc files, the unit enabled with ``systemctl --root``) into a temporary folder. The unit
is then checked with ``systemd-analyze verify --root`` (Debian's systemd package; the root
gets a copy of this machine's unit directory so that the targets it names exist) and its
hardening scored with ``systemd-analyze security --offline``.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from agent.keys import load_private_key
from contract.wire import public_key_text

pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(300),
    pytest.mark.skipif(os.geteuid() != 0, reason="useradd --root needs root"),
]

ROOT = Path(__file__).resolve().parents[2]
INSTALL = ROOT / "deploy" / "agent" / "install.sh"
UNIT = "etc/systemd/system/retrofit-agent.service"
SYSTEM_UNITS = Path("/lib/systemd/system")


def install(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [str(INSTALL), "--root", str(root), "--python", "python3", *args],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    return result


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("gateway")
    install(root)
    return root


def entry(root: Path, file: str, name: str) -> list[str]:
    (line,) = [x for x in (root / file).read_text().splitlines() if x.startswith(name + ":")]
    return line.split(":")


def test_a_system_user_without_login_owns_the_key(gateway: Path) -> None:
    user = entry(gateway, "etc/passwd", "retrofit-agent")
    assert user[5] == "/var/lib/retrofit-agent" and user[6] == "/usr/sbin/nologin"
    assert int(user[2]) < 1000  # a system account
    assert "retrofit-agent" in entry(gateway, "etc/group", "dialout")[3].split(",")
    key = gateway / "etc/retrofit-agent/agent.key"
    info = key.stat()
    assert stat.S_IMODE(info.st_mode) == 0o400 and info.st_uid == int(user[2])
    config_dir = (gateway / "etc/retrofit-agent").stat()
    assert stat.S_IMODE(config_dir.st_mode) == 0o750 and config_dir.st_uid == 0
    public = (gateway / "etc/retrofit-agent/agent.key.pub").read_text().strip()
    assert public == public_key_text(load_private_key(key).public_key())


def test_the_venv_holds_the_agent_and_nothing_central(gateway: Path) -> None:
    python = gateway / "opt/retrofit-agent/venv/bin/python"
    imports = "import paho.mqtt, pymodbus, asyncua, agent.service"
    subprocess.run([str(python), "-c", imports], check=True)
    for central in ("httpx", "numpy", "fastapi", "grafana_client"):
        absent = subprocess.run([str(python), "-c", f"import {central}"], capture_output=True)
        assert absent.returncode != 0, f"{central} is installed on the gateway"
    agent = gateway / "opt/retrofit-agent/venv/bin/retrofit-agent"
    checked = subprocess.run(
        [str(agent), "check-config", "--offline", str(gateway / "etc/retrofit-agent/agent.yaml")],
        capture_output=True, text=True, env={**os.environ, "RV_MQTT_PASSWORD": "x"},
    )  # fmt: skip
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_the_unit_is_installed_enabled_and_verifies(gateway: Path) -> None:
    wanted = gateway / "etc/systemd/system/multi-user.target.wants/retrofit-agent.service"
    assert wanted.is_symlink()
    units = gateway / "usr/lib/systemd/system"
    if not units.exists():
        shutil.copytree(SYSTEM_UNITS, units, symlinks=True)
    verify = subprocess.run(
        ["systemd-analyze", "verify", f"--root={gateway}", str(gateway / UNIT)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert verify.returncode == 0 and verify.stderr == "", verify.stderr
    text = (gateway / UNIT).read_text()
    for setting in ("ProtectSystem=strict", "NoNewPrivileges=true", "PrivateTmp=true",
                    "StateDirectory=retrofit-agent", "Restart=on-failure", "WatchdogSec=30",
                    "Type=notify"):  # fmt: skip
        assert f"\n{setting}\n" in text, setting
    # WATCHDOG=1 comes every 5 s (agent/service.py): the timeout leaves room for six misses.
    service = (ROOT / "agent" / "service.py").read_text()
    assert re.search(r'_sd_notify\("WATCHDOG=1"\)\s+await asyncio\.sleep\(5\)', service)

    broken = gateway / "etc/systemd/system/typo.service"
    broken.write_text(text.replace("WatchdogSec=30", "WatchdogSecs=30"))
    caught = subprocess.run(
        ["systemd-analyze", "verify", f"--root={gateway}", str(broken)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert "Unknown key 'WatchdogSecs'" in caught.stderr
    broken.unlink()

    score = subprocess.run(
        ["systemd-analyze", "security", "--offline=yes", f"--root={gateway}",
         "retrofit-agent.service"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    exposure = re.search(
        r"Overall exposure level for retrofit-agent.service: ([\d.]+)", score.stdout
    )
    assert exposure is not None, score.stdout + score.stderr
    assert float(exposure.group(1)) <= 2.5  # systemd calls < 4 "OK"; measured 1.9


def test_installing_again_keeps_the_key_and_takes_a_new_config(gateway: Path) -> None:
    public = (gateway / "etc/retrofit-agent/agent.key.pub").read_text()
    config = ROOT / "deploy/agent/examples/cnc-cell-opcua.yaml"
    install(gateway, "--config", str(config))
    assert (gateway / "etc/retrofit-agent/agent.key.pub").read_text() == public
    assert (gateway / "etc/retrofit-agent/agent.yaml").read_bytes() == config.read_bytes()
    users = (gateway / "etc/passwd").read_text().splitlines()
    assert sum(1 for line in users if line.startswith("retrofit-agent:")) == 1
