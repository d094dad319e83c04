"""``retrofit-agent retire`` against a real mosquitto: a stopped gateway's last days sealed, sent,
and the agent refused for good.

The outbox holds what a stopped agent left: a whole day sent, the next (still open) day's six
hours pending. Retire must batch and send the pending windows, seal both days (the open one as
it stands), record the retirement with the seals, and wait for every PUBACK; ``run`` and
``import`` then refuse the outbox, and retire itself refuses while an agent holds it.
"""

from __future__ import annotations

import queue
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from agent.keys import generate_key_pair, load_private_key
from agent.outbox import Outbox
from agent.retire import EXIT_NOT_ACKED, EXIT_REFUSED, EXIT_RETIRED, RunLock
from contract import wire
from stack import MosquittoServer, free_port
from tests.agent.test_day_ledger import DAY_END, DAY_START, drain, hours
from tests.conftest import MosquittoFactory
from tests.mqtt_client import MqttTestClient

pytestmark = pytest.mark.timeout(120)

AGENT = Path(sys.executable).parent / "retrofit-agent"
#: The plant clock at retire: 06:00 of the day after DAY, which is therefore still open.
NOW = DAY_END + timedelta(hours=6)
DAY, NEXT_DAY = "2026-11-25", "2026-11-26"


def write_config(folder: Path, broker_port: int, **sections: dict[str, Any]) -> Path:
    """An agent configuration on a clock held at ``NOW`` (speed 1, anchored now), with any
    further ``sections`` (``delivery``)."""
    key = folder / "agent.key"
    generate_key_pair(key)
    config: dict[str, Any] = {
        "agent": {"id": "gw-01", "platform": "plat-a", "enterprise": "ent-01",
                  "key_path": str(key), "outbox_path": str(folder / "outbox.sqlite"),
                  "window_s": 3600},
        "broker": {"host": "127.0.0.1", "port": broker_port, "keepalive_s": 5},
        "clock": {"start": NOW.isoformat(), "anchor": datetime.now(UTC).isoformat(),
                  "speed": 1.0},
        "devices": [{"id": "press-1", "protocol": "modbus_tcp", "host": "127.0.0.1",
                     "port": free_port(), "ideal_cycle_s": 4.0,
                     "tags": {"state": {"role": "state", "register_type": "holding",
                                        "address": 0, "state_map": {1: "running"}}}}],
        **sections,
    }  # fmt: skip
    path = folder / "agent.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def stopped_agent_outbox(config: Path) -> None:
    """What a stopped agent left: DAY's windows batched, the open day's six hours pending."""
    outbox = Outbox(config.parent / "outbox.sqlite")
    outbox.add_windows(hours("press-1", DAY_START, 24))
    drain(outbox)  # sealed by the last run (tests' key); acknowledged by no broker yet
    outbox.add_windows(hours("press-1", DAY_END, 6))
    outbox.close()


def agent_command(*args: str, timeout_s: float = 90) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(AGENT), *args], capture_output=True, text=True, check=False, timeout=timeout_s
    )


def collector_of(broker: MosquittoServer) -> MqttTestClient:
    client = MqttTestClient("collector-1")
    client.connect(broker, clean_start=False)
    client.subscribe(wire.shared_filter("collectors", "windows"))
    client.subscribe(wire.shared_filter("collectors", "day_seals"))
    return client


def received_seals(collector: MqttTestClient, config: Path) -> list[wire.DaySeal]:
    public = load_private_key(config.parent / "agent.key").public_key()
    seals = []
    for message in collector.drain(quiet_s=1.0):
        if message.topic.endswith("/day_seals"):
            seal = wire.decode_day_seal(message.payload)
            wire.verify(seal, public)
            seals.append(seal)
    return sorted(seals, key=lambda seal: seal.index)


def test_retire_seals_every_day_the_open_one_as_it_stands_and_run_then_refuses(
    tmp_path: Path, mosquitto: MosquittoServer
) -> None:
    config = write_config(tmp_path, mosquitto.port)
    stopped_agent_outbox(config)
    collector = collector_of(mosquitto)
    try:
        retired = agent_command("retire", str(config))
        assert retired.returncode == 0, retired.stdout + retired.stderr
        assert "1 window batches and 2 day seals issued now" in retired.stdout, retired.stdout
        seals = received_seals(collector, config)
    finally:
        collector.close()
    assert [(str(s.day), s.version, s.index) for s in seals] == [(DAY, 1, 1), (NEXT_DAY, 1, 2)]
    whole, open_day = (seal.parts[0] for seal in seals)
    assert (whole.windows, whole.last_end) == (24, DAY_END)
    # Sealed as it stands: its six hours, ending where the last window sent ends.
    assert (open_day.windows, open_day.last_end) == (6, DAY_END + timedelta(hours=6))
    outbox = Outbox(config.parent / "outbox.sqlite")
    stats, retired_ms = outbox.stats(), outbox.retired_ms()
    outbox.close()
    assert (stats.pending_windows, stats.sealed_batches) == (0, 0)  # every PUBACK came
    assert retired_ms is not None and abs(retired_ms / 1000 - NOW.timestamp()) < 60

    run = agent_command("run", str(config), timeout_s=30)
    assert run.returncode == EXIT_RETIRED, run.stdout + run.stderr
    assert "agent gw-01 was retired at" in run.stderr and "new agent id" in run.stderr
    status = agent_command("status", str(config), timeout_s=30)
    assert status.returncode == 0, status.stdout + status.stderr
    assert "retired (retrofit-agent retire)" in status.stdout
    assert "2026-11-25T22:0" in status.stdout, status.stdout
    csv = tmp_path / "late.csv"
    csv.write_text("time,state\n2026-11-20 08:00:00,1\n2026-11-20 08:10:00,1\n", "utf-8")
    late = agent_command("import", str(csv), "--config", str(config), "--device", "press-1",
                         "--map", "time=time", "--map", "state=state")  # fmt: skip
    assert late.returncode == 4, late.stdout + late.stderr
    assert "the agent was retired" in late.stdout


def test_retire_refuses_while_an_agent_holds_the_outbox(
    tmp_path: Path, mosquitto: MosquittoServer
) -> None:
    config = write_config(tmp_path, mosquitto.port)
    stopped_agent_outbox(config)
    with RunLock(config.parent / "outbox.sqlite"):  # what a running agent holds
        refused = agent_command("retire", str(config))
    assert refused.returncode == EXIT_REFUSED, refused.stdout + refused.stderr
    assert "in use by another process" in refused.stderr
    outbox = Outbox(config.parent / "outbox.sqlite")
    assert outbox.retired_ms() is None and outbox.stats().pending_windows == 6  # untouched
    outbox.close()


def test_retire_with_the_broker_down_is_recorded_and_a_second_retire_sends_the_rest(
    tmp_path: Path, mosquitto_factory: MosquittoFactory
) -> None:
    broker = mosquitto_factory(start=False)
    config = write_config(tmp_path, broker.port)
    stopped_agent_outbox(config)
    first = agent_command("retire", str(config), "--timeout", "2")
    assert first.returncode == EXIT_NOT_ACKED, first.stdout + first.stderr
    assert "run retire again" in first.stderr
    outbox = Outbox(config.parent / "outbox.sqlite")
    retired_ms = outbox.retired_ms()
    assert retired_ms is not None and outbox.stats().sealed_batches == 4  # 2 batches, 2 seals
    outbox.close()
    run = agent_command("run", str(config), timeout_s=30)
    assert run.returncode == EXIT_RETIRED, run.stdout + run.stderr

    broker.start()
    collector = collector_of(broker)
    try:
        second = agent_command("retire", str(config))
        assert second.returncode == 0, second.stdout + second.stderr
        assert "0 window batches and 0 day seals issued now" in second.stdout
        seals = received_seals(collector, config)
    finally:
        collector.close()
    assert [(str(s.day), s.version) for s in seals] == [(DAY, 1), (NEXT_DAY, 1)]
    outbox = Outbox(config.parent / "outbox.sqlite")
    assert outbox.retired_ms() == retired_ms  # the first retirement's time is kept
    assert outbox.stats().sealed_batches == 0
    outbox.close()


class ConfirmingCollector:
    """Plays the collector's confirmations on the wire: every windows batch and day seal it
    receives is confirmed stored, signed with a collector confirmation key (a thread)."""

    def __init__(self, broker: MosquittoServer, key: Ed25519PrivateKey) -> None:
        self.key = key
        self.client = collector_of(broker)
        self.confirmed: list[int] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._confirm, daemon=True)
        self._thread.start()

    def _confirm(self) -> None:
        while not self._stop.is_set():
            try:
                message = self.client.next_message(0.2)
            except queue.Empty:
                continue
            decode = (
                wire.decode_day_seal
                if message.topic.endswith("/day_seals")
                else (wire.decode_envelope)
            )
            body = decode(message.payload)
            sent = datetime.fromtimestamp(round(time.time(), 3), UTC)
            confirmation = wire.seal_confirmation(
                platform=body.platform, enterprise=body.enterprise, agent=body.agent, sent=sent,
                stored=[(body.seq, body.seq)], key=self.key,
            )  # fmt: skip
            topic = wire.confirmations_topic(body.platform, body.enterprise, body.agent)
            self.client.publish(topic, wire.encode(confirmation))
            self.confirmed.append(body.seq)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        self.client.close()


def test_retire_with_confirmations_waits_for_the_collector_not_only_the_broker(
    tmp_path: Path, mosquitto: MosquittoServer
) -> None:
    # With delivery.confirm required a PUBACK is not delivery (#19): a retired agent never runs
    # again to re-send what a broker lost, so retire waits for the collector's confirmations.
    collector_key = Ed25519PrivateKey.generate()
    delivery = {"confirm": "required", "resend_after_s": 5,
                "collector_keys": [wire.public_key_text(collector_key.public_key())]}  # fmt: skip
    config = write_config(tmp_path, mosquitto.port, delivery=delivery)
    stopped_agent_outbox(config)
    silent = collector_of(mosquitto)  # receives (the broker acknowledges) but never confirms
    try:
        first = agent_command("retire", str(config), "--timeout", "3")
    finally:
        silent.close()
    assert first.returncode == EXIT_NOT_ACKED, first.stdout + first.stderr
    assert "0 messages not acknowledged by the broker and 4 not confirmed stored" in first.stderr
    outbox = Outbox(config.parent / "outbox.sqlite")
    assert outbox.stats().awaiting_confirmation == 4  # 2 batches, 2 seals: kept
    outbox.close()

    confirming = ConfirmingCollector(mosquitto, collector_key)
    try:
        second = agent_command("retire", str(config))  # re-sends after resend_after_s
    finally:
        confirming.close()
    assert second.returncode == 0, second.stdout + second.stderr
    assert "acknowledged by the broker and confirmed stored by the collector" in second.stdout
    assert sorted(set(confirming.confirmed)) == [1, 2, 3, 4]
    outbox = Outbox(config.parent / "outbox.sqlite")
    assert outbox.stats().sealed_batches == 0
    outbox.close()
