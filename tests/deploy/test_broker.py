"""The central broker's own configuration (deploy/central/mosquitto/mosquitto.conf) on a real
mosquitto: TLS from make-pki.sh, the password file, and the ACL the registry writes.

The file is used as shipped; only its container paths (/mosquitto/...) and its port move to a
temporary folder and a free loopback port. The legitimate agent and the collector work; an
agent publishing as another agent, a client without TLS, a bad password and a revoked agent
are refused.
"""

from __future__ import annotations

import os
import socket
import ssl
import subprocess
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.reasoncodes import ReasonCode

from collector.broker import acl_text
from collector.plan import load_plan
from collector.registry import Registry
from contract import wire
from stack import MosquittoServer

pytestmark = pytest.mark.timeout(60)

CENTRAL = Path(__file__).resolve().parents[2] / "deploy" / "central"
PLAN = Path(__file__).resolve().parents[2] / "deploy" / "examples" / "plan.yaml"
PASSWORDS = {"collector": "collector-pw", "healthcheck": "hc-pw", "ent-01-gw1": "gw1-pw",
             "ent-02-gw1": "gw2-pw", "ent-03-gw1": "gw3-pw"}  # fmt: skip
WAIT_S = 5.0


class ShippedConfigMosquitto(MosquittoServer):
    """mosquitto started from the shipped config file, its paths moved under ``workdir``."""

    def _config_lines(self) -> list[str]:
        text = (CENTRAL / "mosquitto" / "mosquitto.conf").read_text()
        assert text.count("\nlistener 8883\n") == 1, "the shipped config changed shape"
        lines = ["user root"] if os.geteuid() == 0 else []  # FIELD-NOTES: root drops privileges
        for line in text.splitlines():
            line = line.replace("/mosquitto/", f"{self.workdir}/")
            lines.append(f"listener {self.port} 127.0.0.1" if line == "listener 8883" else line)
        return lines


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ShippedConfigMosquitto]:
    root = tmp_path_factory.mktemp("central")
    subprocess.run(
        [str(CENTRAL / "make-pki.sh"), "--out", str(root / "certs"), "127.0.0.1"],
        check=True, capture_output=True,
    )  # fmt: skip
    (root / "config").mkdir()
    (root / "data").mkdir()
    passwd = root / "config" / "passwd"
    passwd.write_text("")
    for user, password in PASSWORDS.items():
        subprocess.run(["mosquitto_passwd", "-b", str(passwd), user, password], check=True)
    with Registry(root / "registry.sqlite") as registry:
        registry.load_plan(load_plan(PLAN), by="test")
        registry.revoke_agent("ent-03-gw1", by="test", reason="gateway stolen")
        (root / "config" / "acl").write_text(acl_text(registry.agents()))
    probe = ssl.create_default_context(cafile=str(root / "certs" / "ca.pem"))
    server = ShippedConfigMosquitto(root, probe_ssl_context=probe, allow_anonymous=False)
    server.start()
    yield server
    server.stop()


class Client:
    """A paho MQTT v5 client that records its CONNACK, PUBACK reason codes and messages."""

    def __init__(
        self,
        broker: MosquittoServer,
        user: str,
        password: str,
        *,
        tls: bool = True,
        wait_s: float = WAIT_S,
    ) -> None:
        self.paho = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=f"t-{user}", protocol=MQTTProtocolVersion.MQTTv5
        )
        if tls:
            self.paho.tls_set(ca_certs=str(broker.workdir / "certs" / "ca.pem"))
        self.paho.username_pw_set(user, password)
        self.connack: ReasonCode | None = None
        self.pubacks: dict[int, ReasonCode] = {}
        self.messages: list[mqtt.MQTTMessage] = []
        self.subacks: dict[int, list[ReasonCode]] = {}
        self.events = threading.Condition()
        self.paho.on_connect = self._on_connect
        self.paho.on_publish = self._on_publish
        self.paho.on_message = self._on_message
        self.paho.on_subscribe = self._on_subscribe
        self.paho.connect(broker.host, broker.port)
        self.paho.loop_start()
        self._wait(lambda: self.connack is not None, wait_s)

    def _on_connect(
        self, _c: object, _u: object, _f: object, reason: ReasonCode, _p: object
    ) -> None:
        with self.events:
            self.connack = reason
            self.events.notify_all()

    def _on_publish(self, _c: object, _u: object, mid: int, reason: ReasonCode, _p: object) -> None:
        with self.events:
            self.pubacks[mid] = reason
            self.events.notify_all()

    def _on_message(self, _c: object, _u: object, message: mqtt.MQTTMessage) -> None:
        with self.events:
            self.messages.append(message)
            self.events.notify_all()

    def _on_subscribe(
        self, _c: object, _u: object, mid: int, reasons: list[ReasonCode], _p: object
    ) -> None:
        with self.events:
            self.subacks[mid] = reasons
            self.events.notify_all()

    def _wait(self, done: Callable[[], bool], wait_s: float = WAIT_S) -> bool:
        with self.events:
            return self.events.wait_for(done, wait_s)

    def publish(self, topic: str, payload: bytes = b"{}") -> ReasonCode | None:
        """Publish at QoS 1; the PUBACK's reason code (None if none came)."""
        info = self.paho.publish(topic, payload, qos=1)
        self._wait(lambda: info.mid in self.pubacks)
        return self.pubacks.get(info.mid)

    def subscribe(self, *filters: str) -> list[ReasonCode]:
        """Subscribe at QoS 1; the SUBACK's reason codes, one per filter ([] if none came)."""
        result, mid = self.paho.subscribe([(f, 1) for f in filters])
        assert result == mqtt.MQTT_ERR_SUCCESS and mid is not None
        self._wait(lambda: mid in self.subacks)
        return self.subacks.get(mid, [])

    def received(self, count: int, wait_s: float = WAIT_S) -> list[mqtt.MQTTMessage]:
        self._wait(lambda: len(self.messages) >= count, wait_s)
        return list(self.messages)

    def close(self) -> None:
        self.paho.disconnect()
        self.paho.loop_stop()
        # paho 2.2 closes loop_start's socket pair only in reinitialise() or when the client is
        # collected (eclipse-paho/paho.mqtt.python#627); the bound callbacks keep this object
        # and its client in a cycle, so that would be a ResourceWarning at some later test.
        self.paho.reinitialise()


def windows(enterprise: str, agent: str) -> str:
    return wire.windows_topic("plat-a", enterprise, agent)


def test_the_agent_publishes_its_own_topics_and_the_collector_receives_them(
    broker: MosquittoServer,
) -> None:
    collector = Client(broker, "collector", PASSWORDS["collector"])
    assert collector.connack is not None and not collector.connack.is_failure
    collector.subscribe(
        wire.shared_filter("collectors", "windows"),
        wire.shared_filter("collectors", "day_seals"),
        wire.STATUS_FILTER,
    )
    agent = Client(broker, "ent-01-gw1", PASSWORDS["ent-01-gw1"])
    assert agent.publish(windows("ent-01", "ent-01-gw1"), b'{"seq":1}') is not None
    status = wire.status_topic("plat-a", "ent-01", "ent-01-gw1")
    assert agent.publish(status, b'{"state":"online"}') is not None
    seals = wire.day_seals_topic("plat-a", "ent-01", "ent-01-gw1")
    assert agent.publish(seals, b'{"kind":"day_seal"}') is not None
    topics = sorted(m.topic for m in collector.received(3))
    assert topics == sorted([windows("ent-01", "ent-01-gw1"), status, seals])
    # Another agent's day seals topic is refused like its windows.
    assert agent.publish(wire.day_seals_topic("plat-a", "ent-01", "ent-01-gw2")) is not None
    assert len(collector.received(4, wait_s=1.0)) == 3
    assert collector.publish(windows("ent-01", "ent-01-gw1")) != 0  # the collector only reads
    agent.close()
    collector.close()


def test_an_agent_cannot_publish_as_another_agent_or_enterprise(broker: MosquittoServer) -> None:
    collector = Client(broker, "collector", PASSWORDS["collector"])
    collector.subscribe(wire.shared_filter("collectors", "windows"))
    agent = Client(broker, "ent-01-gw1", PASSWORDS["ent-01-gw1"])
    for topic in (
        windows("ent-02", "ent-02-gw1"),  # another enterprise's agent
        windows("ent-01", "ent-01-gw2"),  # an agent id of its own making
        windows("ent-02", "ent-01-gw1"),  # itself, under another enterprise
        "rv/v1/plat-a/ent-01/ent-01-gw1/commands",  # a topic kind the contract does not have
    ):
        reason = agent.publish(topic)
        assert reason is not None and reason.value == 135, (topic, reason)  # Not authorized
    assert agent.publish(windows("ent-01", "ent-01-gw1")) == 0
    received = collector.received(1)
    assert [m.topic for m in received] == [windows("ent-01", "ent-01-gw1")]
    agent.close()
    collector.close()


def test_bad_password_and_revoked_agent_are_refused(broker: MosquittoServer) -> None:
    wrong = Client(broker, "ent-01-gw1", "not-the-password")
    # mosquitto 2.0.11 answers a wrong password with 135 Not authorized (not 134).
    assert wrong.connack is not None and wrong.connack.value == 135
    wrong.close()
    # ent-03-gw1 still has a password but no ACL line: it connects and may publish nothing.
    revoked = Client(broker, "ent-03-gw1", PASSWORDS["ent-03-gw1"])
    reason = revoked.publish(windows("ent-03", "ent-03-gw1"))
    assert reason is not None and reason.value == 135
    revoked.close()
    stranger = Client(broker, "nobody", "x")
    assert stranger.connack is not None and stranger.connack.is_failure
    stranger.close()


def test_there_is_no_way_in_without_tls(broker: MosquittoServer) -> None:
    # An MQTT CONNECT in plain text to the only listener: no CONNACK, the TLS layer refuses it.
    client_id = b"plain"
    body = b"\x00\x04MQTT\x04\x02\x00\x0a" + len(client_id).to_bytes(2, "big") + client_id
    with socket.create_connection((broker.host, broker.port), timeout=WAIT_S) as sock:
        sock.sendall(b"\x10" + bytes([len(body)]) + body)
        try:
            answer = sock.recv(4)
        except (ConnectionResetError, TimeoutError):
            answer = b""
    assert not answer.startswith(b"\x20"), answer  # 0x20 would be a CONNACK
    plain = Client(broker, "ent-01-gw1", PASSWORDS["ent-01-gw1"], tls=False, wait_s=1.5)
    assert plain.connack is None
    plain.close()


def test_the_healthcheck_user_reads_uptime_and_nothing_else(broker: MosquittoServer) -> None:
    health = Client(broker, "healthcheck", PASSWORDS["healthcheck"])
    health.subscribe("$SYS/broker/uptime", windows("ent-01", "ent-01-gw1"))
    assert health.received(1)[0].topic == "$SYS/broker/uptime"
    agent = Client(broker, "ent-01-gw1", PASSWORDS["ent-01-gw1"])
    assert agent.publish(windows("ent-01", "ent-01-gw1")) == 0
    # Another uptime may come (mosquitto publishes $SYS every 10 s), never the agent's window.
    assert all(m.topic == "$SYS/broker/uptime" for m in health.received(2, wait_s=1.5))
    agent.close()
    health.close()


def test_only_its_own_agent_reads_its_confirmations_and_only_the_collector_writes_them(
    broker: MosquittoServer,
) -> None:
    # A forged confirmation would make an agent delete what was never stored (#19): no agent
    # may publish one, and another agent may not read them (they say what it has delivered).
    topic = wire.confirmations_topic("plat-a", "ent-01", "ent-01-gw1")
    own = Client(broker, "ent-01-gw1", PASSWORDS["ent-01-gw1"])
    other = Client(broker, "ent-02-gw1", PASSWORDS["ent-02-gw1"])
    assert [r.value for r in own.subscribe(topic)] == [1]  # granted QoS 1
    # mosquitto 2.0.11 grants a subscription it will deliver nothing to (it checks read
    # access per message), so what counts is that nothing arrives.
    other.subscribe(topic, "rv/v1/+/+/+/confirmations", "rv/v1/#")
    collector = Client(broker, "collector", PASSWORDS["collector"])
    assert collector.publish(topic, b'{"kind":"confirmation"}') == 0
    assert [m.topic for m in own.received(1)] == [topic]
    assert other.received(1, wait_s=1.5) == []
    for agent, user in ((own, "ent-01-gw1"), (other, "ent-02-gw1")):
        reason = agent.publish(topic, b'{"kind":"confirmation"}')
        assert reason is not None and reason.value == 135, (user, reason)  # Not authorized
    assert len(own.received(2, wait_s=1.0)) == 1
    for client in (own, other, collector):
        client.close()
