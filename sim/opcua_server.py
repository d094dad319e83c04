"""The OPC UA server: one object per machine under ``Objects/Plant``, updated as the plant runs.

Endpoint ``opc.tcp://HOST:PORT/retrofit-sim``, security None plus Basic256Sha256 Sign and
SignAndEncrypt with a self-signed certificate made at first start in the work dir; anonymous
and username/password logins. Node ids are strings in the simulator's namespace (URI
``NAMESPACE_URI``; index 2 on this server): ``<machine>`` for the object and
``<machine>.<Variable>`` for its variables, so they survive a restart unchanged.

Before a Read is answered, asyncua's PreRead callback awaits ``before_read`` with the machines
whose variables it asks for, so the simulator can write their values for the plant time of the
read. A subscription is not a read: its notifications follow the simulator's writes (its tick).
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

from asyncua import ua
from asyncua.common.callback import CallbackService, CallbackType, ServerItemCallback
from asyncua.crypto.permission_rules import User, UserRole
from asyncua.server.server import Server

from sim.certs import make_self_signed

__all__ = ["APP_URI", "NAMESPACE_URI", "OPCUA_VARIABLES", "OpcUaSim", "OpcUaVariable"]

log = logging.getLogger(__name__)

NAMESPACE_URI = "urn:retrofit-verify:sim"
APP_URI = "urn:retrofit-verify:sim:server"
#: Awaited with the ids of the machines a Read asks for, before it is answered.
BeforeRead = Callable[[Sequence[str]], Awaitable[None]]


@dataclass(frozen=True)
class OpcUaVariable:
    """One variable of a machine object: its browse name, OPC UA type and the signal it shows."""

    name: str
    variant: ua.VariantType
    signal: str
    description: str


OPCUA_VARIABLES: tuple[OpcUaVariable, ...] = (
    OpcUaVariable("State", ua.VariantType.UInt16, "state", "state code, see STATE_CODES"),
    OpcUaVariable("StateName", ua.VariantType.String, "state_name", "running, idle, down, ..."),
    OpcUaVariable("TotalCount", ua.VariantType.UInt32, "total_count", "parts, wraps at 2^bits"),
    OpcUaVariable("RejectCount", ua.VariantType.UInt32, "reject_count", "rejects, wraps"),
    OpcUaVariable("GoodCount", ua.VariantType.UInt32, "good_count", "good parts, wraps"),
    OpcUaVariable("EnergyKWh", ua.VariantType.Double, "energy_kwh", "cumulative kWh"),
    OpcUaVariable("PowerKW", ua.VariantType.Double, "power_kw", "present kW"),
    OpcUaVariable("CycleTimeS", ua.VariantType.Double, "cycle_time_s", "last part's seconds"),
)


class _Users:
    """asyncua user manager: anonymous (if allowed) or a known username with its password."""

    def __init__(self, users: Mapping[str, str], allow_anonymous: bool) -> None:
        self._users = dict(users)
        self._allow_anonymous = allow_anonymous

    def get_user(
        self,
        iserver: Any,
        username: str | None = None,
        password: str | None = None,
        certificate: Any = None,
    ) -> User | None:
        if username is None:  # anonymous (asyncua passes the channel's certificate along too)
            return User(role=UserRole.User) if self._allow_anonymous else None
        expected = self._users.get(username)
        if expected is None or not hmac.compare_digest(expected, password or ""):
            return None
        return User(role=UserRole.User)


class OpcUaSim:
    """The simulator's OPC UA server; ``restart()`` is the restart fault."""

    def __init__(
        self,
        machine_ids: Sequence[str],
        *,
        host: str,
        port: int,
        work_dir: Path,
        users: Mapping[str, str] | None = None,
        allow_anonymous: bool = True,
    ) -> None:
        self.machine_ids = tuple(machine_ids)
        self.host = host
        self.port = port
        self.cert_path = work_dir / "opcua-server-cert.der"
        self.key_path = work_dir / "opcua-server-key.pem"
        self._work_dir = work_dir
        self._users = _Users(users or {}, allow_anonymous)
        self._server: Server | None = None
        self._namespace = 0
        self._values: dict[str, tuple[dict[str, Any], float]] = {}
        #: Awaited before each Read a client sends (see the module doc).
        self.before_read: BeforeRead | None = None

    @property
    def endpoint(self) -> str:
        """The endpoint URL clients connect to."""
        return f"opc.tcp://{self.host}:{self.port}/retrofit-sim"

    @property
    def running(self) -> bool:
        """True while the server is up."""
        return self._server is not None

    def node_id(self, machine_id: str, variable: str | None = None) -> str:
        """The string node id of a machine object or of one of its variables."""
        ident = machine_id if variable is None else f"{machine_id}.{variable}"
        return f"ns={self._namespace or 2};s={ident}"

    async def start(self) -> None:
        """Start serving (making the certificate first if the work dir has none).

        Raises OSError when the port cannot be bound.
        """
        if not self.cert_path.exists() or not self.key_path.exists():
            self._work_dir.mkdir(parents=True, exist_ok=True)
            make_self_signed(self.cert_path, self.key_path, APP_URI)
        server = Server(user_manager=self._users)  # type: ignore[arg-type]  # duck-typed manager
        await server.init()
        server.set_endpoint(self.endpoint)
        server.set_server_name("retrofit-sim")
        await server.set_application_uri(APP_URI)
        server.set_security_policy(
            [
                ua.SecurityPolicyType.NoSecurity,
                ua.SecurityPolicyType.Basic256Sha256_Sign,
                ua.SecurityPolicyType.Basic256Sha256_SignAndEncrypt,
            ]
        )
        server.set_identity_tokens([ua.AnonymousIdentityToken, ua.UserNameIdentityToken])
        await server.load_certificate(str(self.cert_path))
        await server.load_private_key(str(self.key_path))
        self._namespace = await server.register_namespace(NAMESPACE_URI)
        await self._build_nodes(server)
        server.subscribe_server_callback(CallbackType.PreRead, self._pre_read)
        await server.start()
        self._server = server
        for machine_id, (values, plant_ts) in self._values.items():
            await self._write(machine_id, values, plant_ts, only_changed=False)
        log.info("opcua serving %d machines at %s", len(self.machine_ids), self.endpoint)

    async def stop(self) -> None:
        """Stop serving; clients see the connection close."""
        if self._server is not None:
            server, self._server = self._server, None
            await server.stop()
            log.info("opcua stopped at %s", self.endpoint)

    async def restart(self) -> None:
        """Stop and start again on the same endpoint, with the same node ids and latest values."""
        await self.stop()
        await self.start()

    async def publish(self, machine_id: str, values: Mapping[str, Any], plant_ts: float) -> None:
        """Set a machine's variables; only changed values are written (one notification each)."""
        previous = self._values.get(machine_id, ({}, 0.0))[0]
        self._values[machine_id] = (dict(values), plant_ts)
        if self._server is not None:
            changed = {k: v for k, v in values.items() if previous.get(k) != v}
            await self._write(machine_id, changed, plant_ts, only_changed=True)

    async def _pre_read(self, event: ServerItemCallback, _service: CallbackService) -> None:
        if self.before_read is None:
            return
        params = cast(ua.ReadParameters, event.request_params)
        wanted = {self._machine_of(item.NodeId) for item in params.NodesToRead}
        machines = [machine_id for machine_id in self.machine_ids if machine_id in wanted]
        if not machines:
            return
        try:
            await self.before_read(machines)
        except Exception:  # the Read is still answered, with the values last written
            log.exception("opcua: refreshing %s before a read failed", ", ".join(machines))

    def _machine_of(self, node_id: ua.NodeId) -> str | None:
        """The machine whose object or variable ``node_id`` is, if it is one of ours."""
        if node_id.NamespaceIndex != self._namespace or not isinstance(node_id.Identifier, str):
            return None
        return node_id.Identifier.split(".", 1)[0]

    async def _build_nodes(self, server: Server) -> None:
        ns = self._namespace
        plant = await server.nodes.objects.add_folder(_node_id("Plant", ns), f"{ns}:Plant")
        for machine_id in self.machine_ids:
            machine = await plant.add_object(_node_id(machine_id, ns), f"{ns}:{machine_id}")
            for variable in OPCUA_VARIABLES:
                initial = "" if variable.variant is ua.VariantType.String else 0
                await machine.add_variable(
                    _node_id(f"{machine_id}.{variable.name}", ns),
                    f"{ns}:{variable.name}",
                    ua.Variant(initial, variable.variant),
                )

    async def _write(
        self, machine_id: str, values: Mapping[str, Any], plant_ts: float, only_changed: bool
    ) -> None:
        server = self._server
        if server is None:
            return
        # Source timestamp = plant time, so a scaled-clock demo carries plant time end to end.
        stamp = cast(ua.DateTime, datetime.fromtimestamp(plant_ts, UTC))
        for variable in OPCUA_VARIABLES:
            if variable.signal not in values:
                continue
            data = ua.DataValue(
                ua.Variant(values[variable.signal], variable.variant), SourceTimestamp=stamp
            )
            node = _node_id(f"{machine_id}.{variable.name}", self._namespace)
            await server.write_attribute_value(node, data)


def _node_id(identifier: str, namespace: int) -> ua.NodeId:
    return ua.NodeId(ua.String(identifier), ua.Int16(namespace))
