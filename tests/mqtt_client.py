"""A paho 2.x MQTT v5 client driven from tests: connect, subscribe, publish, receive.

Tests use it to stand where the collector will stand (a persistent session on a shared
subscription) or to publish by hand. It talks to the real mosquitto the fixtures start.
"""

from __future__ import annotations

import queue
import ssl
import threading

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from stack import MosquittoServer

WAIT_S = 10.0
SESSION_EXPIRY_S = 300


class MqttTestClient:
    """One paho client with its network loop in a thread and received messages in a queue."""

    def __init__(self, client_id: str) -> None:
        self.paho = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=client_id, protocol=MQTTProtocolVersion.MQTTv5
        )
        self.messages: queue.Queue[mqtt.MQTTMessage] = queue.Queue()
        self.session_present: bool | None = None
        self._filters: list[str] = []
        self._connected = threading.Event()
        self._subscribed = threading.Event()
        self.paho.on_connect = self._on_connect
        self.paho.on_subscribe = self._on_subscribe
        self.paho.on_message = lambda _client, _userdata, message: self.messages.put(message)

    def _on_connect(
        self,
        _client: mqtt.Client,
        _userdata: object,
        flags: mqtt.ConnectFlags,
        reason_code: ReasonCode,
        _properties: Properties | None,
    ) -> None:
        assert not reason_code.is_failure, reason_code
        self.session_present = flags.session_present
        # Subscribe again on every connect, as the collector must: mosquitto 2.0.11 restores a
        # persistent session after a restart but not its shared subscriptions
        # (docs/field-notes.md).
        for topic_filter in self._filters:
            self.paho.subscribe(topic_filter, qos=1)
        self._connected.set()

    def _on_subscribe(self, *_args: object) -> None:
        self._subscribed.set()

    def connect(
        self,
        broker: MosquittoServer,
        *,
        clean_start: bool = True,
        tls: ssl.SSLContext | None = None,
        login: tuple[str, str] | None = None,
    ) -> None:
        """Connect with a session that outlives the connection by SESSION_EXPIRY_S."""
        if tls is not None:
            self.paho.tls_set_context(tls)
        if login is not None:
            self.paho.username_pw_set(*login)
        # paho 2.2 leaves Properties.__init__ unannotated.
        properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        properties.SessionExpiryInterval = SESSION_EXPIRY_S
        self._connected.clear()
        self.paho.connect(broker.host, broker.port, clean_start=clean_start, properties=properties)
        self.paho.loop_start()
        assert self._connected.wait(WAIT_S), "no CONNACK"

    def subscribe(self, topic: str) -> None:
        self._subscribed.clear()
        self._filters.append(topic)
        self.paho.subscribe(topic, qos=1)
        assert self._subscribed.wait(WAIT_S), "no SUBACK"

    def publish(self, topic: str, payload: bytes, *, retain: bool = False) -> None:
        """Publish at QoS 1 and wait for the broker's PUBACK."""
        info = self.paho.publish(topic, payload, qos=1, retain=retain)
        info.wait_for_publish(WAIT_S)
        assert info.is_published()

    def next_message(self, timeout_s: float = WAIT_S) -> mqtt.MQTTMessage:
        return self.messages.get(timeout=timeout_s)

    def drain(self, quiet_s: float = 0.5) -> list[mqtt.MQTTMessage]:
        """Everything received until nothing more arrives for ``quiet_s``."""
        received = []
        while True:
            try:
                received.append(self.messages.get(timeout=quiet_s))
            except queue.Empty:
                return received

    def close(self) -> None:
        self.paho.disconnect()
        self.paho.loop_stop()
        # paho 2.2 closes the wake-up socket pair loop_start made only in reinitialise() or
        # Client.__del__ (eclipse-paho/paho.mqtt.python#627); a client collected as part of a
        # reference cycle (our bound callbacks) warns of two unclosed sockets instead.
        self.paho.reinitialise()
