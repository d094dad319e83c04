"""A signed envelope through the real mosquitto: read back exactly, verified, tamper caught."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator

import paho.mqtt.client as mqtt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from agent import wire
from stack import MosquittoServer
from tests.agent.test_wire import KEY, make_envelope, make_window

TIMEOUT_S = 10.0


class Subscriber:
    """A paho v5 client that subscribes and hands received messages to the test thread."""

    def __init__(self, broker: MosquittoServer, topic_filter: str) -> None:
        self.messages: queue.Queue[mqtt.MQTTMessage] = queue.Queue()
        self._subscribed = threading.Event()
        self._filter = topic_filter
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id="test-sub", protocol=mqtt.MQTTv5
        )
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = self._on_subscribe
        self.client.on_message = lambda _c, _u, message: self.messages.put(message)
        self.client.connect(broker.host, broker.port)
        self.client.loop_start()
        assert self._subscribed.wait(TIMEOUT_S), "no SUBACK from the broker"

    def _on_connect(
        self,
        client: mqtt.Client,
        _userdata: object,
        _flags: mqtt.ConnectFlags,
        reason: ReasonCode,
        _props: Properties | None,
    ) -> None:
        assert not reason.is_failure, reason
        client.subscribe(self._filter, qos=1)

    def _on_subscribe(self, *_args: object) -> None:
        self._subscribed.set()

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def publish(broker: MosquittoServer, topic: str, payload: bytes) -> None:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="test-pub", protocol=mqtt.MQTTv5)
    client.connect(broker.host, broker.port)
    client.loop_start()
    try:
        info = client.publish(topic, payload, qos=1)
        info.wait_for_publish(TIMEOUT_S)  # returns once the broker's PUBACK arrived
        assert info.is_published()
    finally:
        client.disconnect()
        client.loop_stop()


@pytest.fixture
def subscriber(mosquitto: MosquittoServer) -> Iterator[Subscriber]:
    sub = Subscriber(mosquitto, wire.shared_filter("collectors", "windows"))
    yield sub
    sub.close()


def test_signed_envelope_survives_the_broker_and_tamper_is_caught(
    mosquitto: MosquittoServer, subscriber: Subscriber
) -> None:
    envelope = make_envelope(seq=7, records=[make_window(), make_window(device="press-2")])
    payload = wire.encode(envelope)
    topic = wire.windows_topic(envelope.platform, envelope.enterprise, envelope.agent)
    publish(mosquitto, topic, payload)

    received = subscriber.messages.get(timeout=TIMEOUT_S)
    assert received.topic == topic
    assert received.payload == payload
    address = wire.parse_topic(received.topic)
    decoded = wire.decode_envelope(received.payload)
    assert (address.platform, address.enterprise, address.agent) == (
        decoded.platform,
        decoded.enterprise,
        decoded.agent,
    )
    wire.verify(decoded, KEY.public_key())
    assert decoded == envelope

    # A copy with one count changed, re-encoded canonically so only the signature can catch it.
    forged_record = decoded.records[0].model_copy(update={"good_count": 12, "reject_count": 0})
    forged = decoded.model_copy(update={"records": [forged_record, *decoded.records[1:]]})
    publish(mosquitto, topic, wire.encode(forged))
    tampered = subscriber.messages.get(timeout=TIMEOUT_S)
    with pytest.raises(wire.BadSignature):
        wire.verify(wire.decode_envelope(tampered.payload), KEY.public_key())
    # ...and a key that is not the agent's refuses even the genuine message.
    with pytest.raises(wire.BadSignature):
        wire.verify(decoded, Ed25519PrivateKey.generate().public_key())
