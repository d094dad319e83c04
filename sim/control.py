"""The control channel: a line-based TCP port taking fault commands while the simulator runs.

One command per line, one JSON object per answer line: ``{"ok": true, ...}`` or
``{"ok": false, "error": "..."}``. Try ``printf 'help\\n' | nc 127.0.0.1 PORT``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import shlex
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from sim.errors import ControlError
from sim.runtime import Simulator

__all__ = ["COMMANDS", "ControlServer", "execute"]

log = logging.getLogger(__name__)

#: Command syntax and meaning, as shown by ``help`` and docs/simulator.md.
COMMANDS: dict[str, str] = {
    "help": "list the commands",
    "status": "plant time and every machine's current values",
    "drop": "close every open Modbus TCP connection",
    "exception UNIT CODE [START [END]]": "answer Modbus exception CODE for UNIT's addresses",
    "clear-exceptions [UNIT]": "stop exception faults (of UNIT, or all)",
    "silence UNIT": "UNIT stops answering Modbus requests (clients time out)",
    "unsilence [UNIT]": "UNIT (or every unit) answers again",
    "freeze MACHINE SIGNAL": "hold SIGNAL at its present value on every protocol",
    "unfreeze MACHINE [SIGNAL]": "let SIGNAL (or all) follow the model again",
    "counts UNIT": "Modbus requests UNIT received, by function code",
    "reset-counts": "zero the Modbus request counters",
    "opcua-restart [DOWN_S]": "stop the OPC UA server, wait DOWN_S wall seconds, start it",
    "truth MACHINE START END": "exact ground truth over [START, END) epoch seconds",
    "transitions MACHINE START END": "state changes (ts, from, to) in [START, END) epoch seconds",
    "meter-garbage MACHINE on|off": "a retrofit machine's meter serves NaN, then 3.4e38, as power",
}

_Handler = Callable[[Simulator, list[str]], Awaitable[dict[str, Any]]]


async def execute(sim: Simulator, line: str) -> dict[str, Any]:
    """Run one command line against ``sim``; errors come back as ``{"ok": false, ...}``."""
    try:
        words = shlex.split(line)
    except ValueError as exc:
        return {"ok": False, "error": f"cannot parse {line!r}: {exc}"}
    if not words:
        return {"ok": False, "error": "empty command; try 'help'"}
    handler = _HANDLERS.get(words[0])
    if handler is None:
        return {"ok": False, "error": f"unknown command {words[0]!r}; try 'help'"}
    try:
        return {"ok": True, **await handler(sim, words[1:])}
    except (ControlError, ValueError, IndexError) as exc:
        usage = next((c for c in COMMANDS if c.split()[0] == words[0]), words[0])
        return {"ok": False, "error": f"{exc or 'missing argument'} (usage: {usage})"}


class ControlServer:
    """Serves ``execute`` on a loopback TCP port."""

    def __init__(self, sim: Simulator, host: str, port: int) -> None:
        self._sim = sim
        self._host = host
        self._port = port
        self._server: asyncio.Server | None = None
        self._sessions: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        """Listen. Raises OSError when the port cannot be bound."""
        self._server = await asyncio.start_server(self._serve, self._host, self._port)
        log.info("control channel on %s:%d", self._host, self._port)

    async def stop(self) -> None:
        """Stop listening and close the open sessions."""
        if self._server is not None:
            self._server.close()
            for writer in list(self._sessions):
                writer.close()
            await self._server.wait_closed()
            self._server = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._sessions.add(writer)
        try:
            while line := await reader.readline():
                text = line.decode("utf-8", "replace").strip()
                if not text:
                    continue
                answer = await execute(self._sim, text)
                log.info("control: %s -> ok=%s", text, answer["ok"])
                writer.write(json.dumps(answer).encode() + b"\n")
                await writer.drain()
        except ConnectionError:
            pass  # the operator went away; nothing to clean up beyond the close below
        finally:
            self._sessions.discard(writer)
            writer.close()


async def _help(sim: Simulator, args: list[str]) -> dict[str, Any]:
    return {"commands": COMMANDS}


async def _status(sim: Simulator, args: list[str]) -> dict[str, Any]:
    plant_ts = max((m.now for m in sim.machines.values()), default=sim.clock.timestamp())
    return {
        "plant_ts": plant_ts,
        "plant_time": datetime.fromtimestamp(plant_ts, UTC).isoformat(),
        "machines": {machine_id: sim.values(machine_id) for machine_id in sim.machines},
    }


async def _drop(sim: Simulator, args: list[str]) -> dict[str, Any]:
    return {"dropped": sim.drop_modbus_connections()}


async def _exception(sim: Simulator, args: list[str]) -> dict[str, Any]:
    unit, code = int(args[0]), int(args[1])
    start = int(args[2]) if len(args) > 2 else 0
    end = int(args[3]) if len(args) > 3 else 65535
    sim.modbus_exception(unit, code, start, end)
    return {"unit": unit, "code": code, "start": start, "end": end}


async def _clear(sim: Simulator, args: list[str]) -> dict[str, Any]:
    sim.clear_modbus_exceptions(int(args[0]) if args else None)
    return {}


async def _silence(sim: Simulator, args: list[str]) -> dict[str, Any]:
    sim.silence(int(args[0]))
    return {}


async def _unsilence(sim: Simulator, args: list[str]) -> dict[str, Any]:
    sim.unsilence(int(args[0]) if args else None)
    return {}


async def _freeze(sim: Simulator, args: list[str]) -> dict[str, Any]:
    await sim.freeze(args[0], args[1])
    return {"value": sim.values(args[0])[args[1]]}


async def _unfreeze(sim: Simulator, args: list[str]) -> dict[str, Any]:
    await sim.unfreeze(args[0], args[1] if len(args) > 1 else None)
    return {}


async def _counts(sim: Simulator, args: list[str]) -> dict[str, Any]:
    counts = sim.modbus_request_counts(int(args[0]))
    return {"counts": {str(code): n for code, n in sorted(counts.items())}}


async def _reset_counts(sim: Simulator, args: list[str]) -> dict[str, Any]:
    sim.reset_modbus_request_counts()
    return {}


async def _opcua_restart(sim: Simulator, args: list[str]) -> dict[str, Any]:
    await sim.restart_opcua(float(args[0]) if args else 0.0)
    return {}


async def _truth(sim: Simulator, args: list[str]) -> dict[str, Any]:
    truth = sim.truth(args[0], float(args[1]), float(args[2]))
    return {"truth": {**asdict(truth), "planned_s": truth.planned_s}}


async def _transitions(sim: Simulator, args: list[str]) -> dict[str, Any]:
    changes = sim.transitions(args[0], float(args[1]), float(args[2]))
    return {"transitions": [[c.ts, c.from_state.value, c.to_state.value] for c in changes]}


async def _meter_garbage(sim: Simulator, args: list[str]) -> dict[str, Any]:
    switch = {"on": True, "off": False}.get(args[1])
    if switch is None:
        raise ControlError(f"got {args[1]!r}, expected on or off")
    await sim.meter_garbage(args[0], switch)
    return {"machine": args[0], "garbage": switch}


_HANDLERS: dict[str, _Handler] = {
    "help": _help,
    "status": _status,
    "drop": _drop,
    "exception": _exception,
    "clear-exceptions": _clear,
    "silence": _silence,
    "unsilence": _unsilence,
    "freeze": _freeze,
    "unfreeze": _unfreeze,
    "counts": _counts,
    "reset-counts": _reset_counts,
    "opcua-restart": _opcua_restart,
    "truth": _truth,
    "transitions": _transitions,
    "meter-garbage": _meter_garbage,
}
