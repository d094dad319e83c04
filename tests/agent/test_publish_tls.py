"""The publisher over TLS with a password, against a real mosquitto that demands both."""

from __future__ import annotations

import asyncio
import ssl
import subprocess
from pathlib import Path

import pytest

from agent.config import BrokerConfig
from agent.outbox import Outbox
from agent.publish import Publisher
from contract import wire
from contract.clock import WallClock
from stack import MosquittoServer
from stack.tls import Pki, make_pki
from tests.agent.test_outbox import minute
from tests.agent.test_publish import IDENTITY
from tests.conftest import MosquittoFactory
from tests.contract.test_wire import KEY
from tests.mqtt_client import MqttTestClient

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(60)]

PASSWORD = "s3cret-for-tests"


def tls_broker(factory: MosquittoFactory, folder: Path) -> tuple[MosquittoServer, Pki]:
    pki = make_pki(folder / "pki")
    passwords = folder / "passwd"
    passwords.write_text("")
    for user in ("gw-01", "collector"):
        subprocess.run(["mosquitto_passwd", "-b", str(passwords), user, PASSWORD], check=True)
    probe = ssl.create_default_context(cafile=str(pki.ca_cert))
    broker = factory(
        allow_anonymous=False,
        extra_config=[
            f"cafile {pki.ca_cert}",
            f"certfile {pki.server_cert}",
            f"keyfile {pki.server_key}",
            "tls_version tlsv1.2",
            f"password_file {passwords}",
        ],
        probe_ssl_context=probe,
    )
    return broker, pki


def publisher(broker: MosquittoServer, pki: Pki, outbox: Outbox, password: str) -> Publisher:
    config = BrokerConfig.model_validate(
        {
            "host": "127.0.0.1",
            "port": broker.port,
            "tls": {"ca_path": str(pki.ca_cert)},
            "username": "gw-01",
            "password": password,
        }
    )
    return Publisher(
        config,
        IDENTITY,
        KEY,
        outbox,
        asyncio.Lock(),
        clock=WallClock(),
        agent_version="0.1.0",
        config_digest=wire.config_digest(b"x"),
    )


async def test_windows_go_over_tls_with_a_password_and_a_wrong_one_is_refused(
    mosquitto_factory: MosquittoFactory, tmp_path: Path
) -> None:
    broker, pki = tls_broker(mosquitto_factory, tmp_path)
    collector = MqttTestClient("collector")
    collector.connect(
        broker,
        tls=ssl.create_default_context(cafile=str(pki.ca_cert)),
        login=("collector", PASSWORD),
    )
    collector.subscribe(wire.shared_filter("collectors", "windows"))

    outbox = Outbox(tmp_path / "outbox.sqlite")
    outbox.add_windows([minute("press-1", i) for i in range(3)])
    wrong = publisher(broker, pki, outbox, "not-the-password")
    task = asyncio.create_task(wrong.run())
    await asyncio.sleep(2)
    assert not wrong.state.connected
    assert wrong.state.last_error is not None and "refused" in wrong.state.last_error
    task.cancel()
    await wrong.close()

    right = publisher(broker, pki, outbox, PASSWORD)
    task = asyncio.create_task(right.run())
    assert await right.drain(timeout_s=20)
    task.cancel()
    await right.close()
    outbox.close()
    envelopes = [wire.decode_envelope(m.payload) for m in collector.drain()]
    collector.close()
    assert sum(len(e.records) for e in envelopes) == 3
