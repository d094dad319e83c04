"""Local server processes (mosquitto, influxd, postgres) for tests, benchmarks and the demo.

Each server runs as a child process on free loopback ports with its config, log and data in a
work directory; nothing here touches system services. A server dies with the process that
started it, even on SIGKILL.

    with MosquittoServer(workdir / "mqtt") as broker, InfluxServer(workdir / "influx") as influx:
        client.connect(broker.host, broker.port)
        influx.create_database("rv")
        broker.wait_for_autosave()  # queued messages now survive a crash
        broker.kill()               # crash it; start() brings it back on the same port and data
        broker.start()
"""

from stack.errors import InfluxHTTPError, PostgresError, ServerStartError, StackError
from stack.influxd import InfluxServer, Precision
from stack.mosquitto import (
    DEFAULT_AUTOSAVE_INTERVAL_S,
    DEFAULT_MAX_QUEUED_MESSAGES,
    MosquittoServer,
)
from stack.netns import Hosts, Segment
from stack.ports import LOOPBACK_HOST, free_port, free_ports
from stack.postgres import DEFAULT_POSTGRES_USER, PostgresServer, postgres_bindir
from stack.process import DEFAULT_STOP_GRACE_S, ChildProcess
from stack.server import LocalServer

__all__ = [
    "DEFAULT_AUTOSAVE_INTERVAL_S",
    "DEFAULT_MAX_QUEUED_MESSAGES",
    "DEFAULT_POSTGRES_USER",
    "DEFAULT_STOP_GRACE_S",
    "LOOPBACK_HOST",
    "ChildProcess",
    "Hosts",
    "InfluxHTTPError",
    "InfluxServer",
    "LocalServer",
    "MosquittoServer",
    "PostgresError",
    "PostgresServer",
    "Precision",
    "Segment",
    "ServerStartError",
    "StackError",
    "free_port",
    "free_ports",
    "postgres_bindir",
]
