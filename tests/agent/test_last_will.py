"""An agent that dies without a word still says `offline`: its signed Last Will, retained."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import yaml

from agent.keys import generate_key_pair, load_private_key
from contract import wire
from stack import MosquittoServer, free_port
from tests.mqtt_client import MqttTestClient

AGENT = str(Path(sys.executable).with_name("retrofit-agent"))


def test_sigkilled_agent_leaves_a_signed_retained_offline(
    tmp_path: Path, mosquitto: MosquittoServer
) -> None:
    key = tmp_path / "agent.key"
    generate_key_pair(key)
    config = {
        "agent": {"id": "gw-01", "platform": "plat-a", "enterprise": "ent-01",
                  "key_path": str(key), "outbox_path": str(tmp_path / "outbox.sqlite")},
        "broker": {"host": mosquitto.host, "port": mosquitto.port},
        "devices": [{"id": "press-1", "protocol": "modbus_tcp", "host": "127.0.0.1",
                     "port": free_port(), "tags": {"count": {
                         "role": "total_count", "register_type": "holding", "address": 0,
                         "data_type": "uint16", "width": 16}}}],
    }  # fmt: skip
    path = tmp_path / "agent.yaml"
    path.write_text(yaml.safe_dump(config))
    watcher = MqttTestClient("watcher")
    watcher.connect(mosquitto)
    watcher.subscribe(wire.status_topic("plat-a", "ent-01", "gw-01"))
    agent = subprocess.Popen([AGENT, "run", str(path)], stderr=subprocess.PIPE, text=True)
    try:
        birth = wire.decode_status(watcher.next_message(timeout_s=20).payload)
        assert birth.state == "online"
        agent.send_signal(signal.SIGKILL)  # no DISCONNECT: the broker sends the Will
        agent.communicate(timeout=10)
        will = watcher.next_message(timeout_s=20)
    finally:
        if agent.poll() is None:
            agent.kill()
            agent.communicate(timeout=10)
        watcher.close()
    status = wire.decode_status(will.payload)
    wire.verify(status, load_private_key(key).public_key())
    assert status.state == "offline" and status.agent == "gw-01"

    late = MqttTestClient("late-reader")  # retained: whoever subscribes later learns it too
    late.connect(mosquitto)
    late.subscribe(wire.status_topic("plat-a", "ent-01", "gw-01"))
    retained = late.next_message()
    late.close()
    assert retained.retain and wire.decode_status(retained.payload).state == "offline"
