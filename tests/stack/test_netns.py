"""stack.netns: hosts as network namespaces, reached only over their links, removed after use."""

from __future__ import annotations

import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from stack import Hosts, MosquittoServer, StackError
from stack.netns import entered, remove_stale, unavailable_reason

pytestmark = pytest.mark.skipif(unavailable_reason() is not None, reason=str(unavailable_reason()))


@pytest.fixture
def hosts() -> Iterator[Hosts]:
    """Hosts of this test, deleted afterwards."""
    with Hosts() as made:
        yield made


def _connects(host: str, port: int, timeout_s: float = 1.0) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return True
    except OSError:
        return False


def _names(tag: str) -> list[str]:
    listing = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True, check=True)
    namespaces = [path.name for path in Path("/run/netns").glob(f"{tag}*")]
    return namespaces + [line for line in listing.stdout.splitlines() if tag in line]


def test_a_server_on_a_host_is_reached_over_its_link_and_cut_with_it(
    hosts: Hosts, tmp_path: Path
) -> None:
    lan = hosts.segment("lan")
    address = hosts.attach("broker", lan)
    hosts.attach("client", lan)
    with MosquittoServer(tmp_path, 1883).on_host(address, hosts.netns("broker")) as broker:
        assert _connects(address, 1883)  # from our namespace, over the bridge
        assert not _connects("127.0.0.1", 1883)  # not on our loopback: on the host's
        with entered(hosts.netns("client")):
            client_sock = socket.create_connection((address, broker.port), timeout=2)
        client_sock.close()
        hosts.cut("broker", lan)
        assert not _connects(address, 1883, timeout_s=0.5)
        hosts.restore("broker", lan)
        assert _connects(address, 1883, timeout_s=5)


def test_a_host_has_its_own_network(hosts: Hosts) -> None:
    lan = hosts.segment("lan")
    hosts.attach("one", lan)
    inside = subprocess.run(
        hosts.exec_argv("one", ["ip", "-o", "-4", "addr"]),
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert hosts.address("one", lan) in inside
    assert lan.gateway not in inside  # ours, not the host's


def test_close_removes_everything_and_stale_runs_are_cleared() -> None:
    made = Hosts(tag="rvzzzzz")  # pid int("zzzzz", 36): far above pid_max, so no live owner
    lan = made.segment("lan")
    made.attach("one", lan)
    assert _names("rvzzzzz")
    assert "rvzzzzz-one" in remove_stale()  # as the next run would find a crashed one's
    made.close()
    assert _names("rvzzzzz") == []


def test_an_unknown_host_is_named_in_the_error(hosts: Hosts) -> None:
    with pytest.raises(StackError, match="no host 'nobody'"):
        hosts.netns("nobody")
    with pytest.raises(StackError, match="network namespace 'rv-none'"), entered("rv-none"):
        pass
