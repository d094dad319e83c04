"""stack.mosquitto: a real broker round trip, persistent sessions across a crash, start errors."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

import stack.mosquitto
from stack import LOOPBACK_HOST, MosquittoServer, ServerStartError, StackError, free_port
from tests.conftest import MosquittoFactory
from tests.mqtt_client import MqttTestClient

pytestmark = pytest.mark.timeout(60)

_WAIT_S = 10.0


@contextmanager
def _connected(
    broker: MosquittoServer, client_id: str, *, clean_start: bool = True
) -> Iterator[MqttTestClient]:
    client = MqttTestClient(client_id)
    client.connect(broker, clean_start=clean_start)
    try:
        yield client
    finally:
        client.close()


def test_qos1_round_trip_with_mqtt5(mosquitto: MosquittoServer) -> None:
    with _connected(mosquitto, "sub") as sub, _connected(mosquitto, "pub") as pub:
        sub.subscribe("rv/test/+")
        pub.publish("rv/test/a", b"hello")
        message = sub.next_message()
    assert (message.topic, message.payload, message.qos) == ("rv/test/a", b"hello", 1)


def _queue_for_offline_subscriber(broker: MosquittoServer, payload: bytes) -> None:
    """Leave subscriber `collector` offline with a persistent session and one message queued."""
    with _connected(broker, "collector", clean_start=False) as sub:
        sub.subscribe("rv/queued")
    with _connected(broker, "agent") as pub:
        pub.publish("rv/queued", payload)


@pytest.mark.parametrize("outage", ["sigkill", "sigterm"])
def test_persistent_session_keeps_queued_message_across_broker_outage(
    mosquitto: MosquittoServer, outage: str
) -> None:
    _queue_for_offline_subscriber(mosquitto, b"window-1")
    if outage == "sigkill":
        mosquitto.wait_for_autosave()  # a crash loses what the last snapshot did not hold
        mosquitto.kill()
        mosquitto.start()
    else:
        mosquitto.restart()  # SIGTERM: mosquitto saves on the way out
    with _connected(mosquitto, "collector", clean_start=False) as sub:
        assert sub.session_present is True
        message = sub.next_message()
    assert (message.topic, message.payload, message.qos) == ("rv/queued", b"window-1", 1)


def test_sigkill_without_autosave_loses_the_session(mosquitto_factory: MosquittoFactory) -> None:
    # The control for the test above: this is what a 1800 s autosave interval means on a crash.
    broker = mosquitto_factory(autosave_interval_s=0)
    _queue_for_offline_subscriber(broker, b"window-1")
    broker.kill()
    broker.start()
    with _connected(broker, "collector", clean_start=False) as sub:
        assert sub.session_present is False
        sub.subscribe("rv/queued")
        with _connected(broker, "agent") as pub:
            pub.publish("rv/queued", b"marker")
        # A message surviving the crash would have been delivered before the marker.
        assert sub.next_message().payload == b"marker"


def test_config_states_its_bounds(mosquitto: MosquittoServer) -> None:
    config = mosquitto.config_path.read_text().splitlines()
    assert "max_queued_messages 100000" in config
    assert "autosave_interval 1" in config
    assert f"listener {mosquitto.port} 127.0.0.1" in config
    assert mosquitto.url == f"mqtt://127.0.0.1:{mosquitto.port}"


def test_anonymous_clients_can_be_refused(mosquitto_factory: MosquittoFactory) -> None:
    broker = mosquitto_factory(allow_anonymous=False)
    client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=MQTTProtocolVersion.MQTTv5)
    refused = threading.Event()
    client.on_connect = lambda *args: refused.set() if args[3].is_failure else None
    client.connect(broker.host, broker.port)
    client.loop_start()
    try:
        assert refused.wait(_WAIT_S), "anonymous client was not refused"
    finally:
        client.loop_stop()


def test_broker_dying_at_start_reports_exit_code_and_log(
    mosquitto_factory: MosquittoFactory,
) -> None:
    with pytest.raises(ServerStartError) as caught:
        mosquitto_factory(extra_config=["no_such_option true"])
    error = caught.value
    assert error.exit_code not in (None, 0)
    assert "Unknown configuration variable" in error.log_tail
    assert "no_such_option" in str(error)
    assert f"exited with code {error.exit_code}" in str(error)


def test_taken_port_chosen_by_caller_is_a_clear_error(
    mosquitto_factory: MosquittoFactory,
) -> None:
    with socket.socket() as squatter:
        squatter.bind((LOOPBACK_HOST, 0))
        squatter.listen()
        with pytest.raises(ServerStartError) as caught:
            mosquitto_factory(port=squatter.getsockname()[1])
    assert caught.value.address_in_use


def test_taken_automatic_port_is_replaced(
    mosquitto_factory: MosquittoFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Simulates another process winning the port between our probe and mosquitto's bind.
    with socket.socket() as squatter:
        squatter.bind((LOOPBACK_HOST, 0))
        squatter.listen()
        taken = squatter.getsockname()[1]
        offered = iter([taken])
        monkeypatch.setattr(
            stack.mosquitto, "free_port", lambda: next(offered, None) or free_port()
        )
        broker = mosquitto_factory()
        assert broker.port != taken
        assert broker.is_running
        assert "Address already in use" in broker.log_path.read_text()


def test_missing_binary_is_a_clear_error(mosquitto_factory: MosquittoFactory) -> None:
    broker = mosquitto_factory(start=False, binary=Path("/nonexistent/mosquitto"))
    with pytest.raises(StackError, match="install Debian's mosquitto package"):
        broker.start()
    assert not broker.is_running
    broker.stop()  # what fixture teardown does: must not raise
