"""A signed envelope through the real mosquitto: read back exactly, verified, tamper caught."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from contract import wire
from stack import MosquittoServer
from tests.contract.test_wire import KEY, make_envelope, make_window
from tests.mqtt_client import MqttTestClient

TIMEOUT_S = 10.0


def publish(broker: MosquittoServer, topic: str, payload: bytes) -> None:
    client = MqttTestClient("test-pub")
    client.connect(broker)
    try:
        client.publish(topic, payload)  # returns once the broker's PUBACK arrived
    finally:
        client.close()


@pytest.fixture
def subscriber(mosquitto: MosquittoServer) -> Iterator[MqttTestClient]:
    client = MqttTestClient("test-sub")
    client.connect(mosquitto)
    client.subscribe(wire.shared_filter("collectors", "windows"))
    yield client
    client.close()


def test_signed_envelope_survives_the_broker_and_tamper_is_caught(
    mosquitto: MosquittoServer, subscriber: MqttTestClient
) -> None:
    envelope = make_envelope(seq=7, records=[make_window(), make_window(device="press-2")])
    payload = wire.encode(envelope)
    topic = wire.windows_topic(envelope.platform, envelope.enterprise, envelope.agent)
    publish(mosquitto, topic, payload)

    received = subscriber.next_message()
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
    tampered = subscriber.next_message()
    with pytest.raises(wire.BadSignature):
        wire.verify(wire.decode_envelope(tampered.payload), KEY.public_key())
    # ...and a key that is not the agent's refuses even the genuine message.
    with pytest.raises(wire.BadSignature):
        wire.verify(decoded, Ed25519PrivateKey.generate().public_key())
