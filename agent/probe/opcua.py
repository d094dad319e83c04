"""``retrofit-agent probe opcua``: browse a server's node tree, draft the config's ``tags:`` block.

The probe opens a session the way the agent does (:func:`agent.sources.opcua.new_client`), with
security policy None and an anonymous or username login: enough to see what a server offers;
a server that only accepts signed or encrypted sessions refuses it, and the installer then
checks the secured device with ``check-config``. From the Objects folder (or ``--browse`` a
browse path or node id) it walks hierarchical references down ``--depth`` levels, reads every
variable's value and data type in batched Read calls, and prints a tree. ``--tags`` prints a
``tags:`` block instead: one ``info`` tag per scalar variable, with a comment suggesting a role
from the variable's name and type, that validates as it is once indented under a device.

This module checks the arguments and runs the probe; :mod:`.opcua_browse` walks the server and
:mod:`.opcua_tags` renders the tree and the ``tags:`` block.
"""

from __future__ import annotations

import asyncio
import re
from urllib.parse import urlsplit

from pydantic import ValidationError
from rich.console import Console

from agent.config import OpcUaDeviceConfig, OpcUaTagConfig

from .opcua_browse import ProbeFailed, browse_server
from .opcua_tags import notes, render_tree, tags_yaml
from .options import EXIT_DEVICE_FAILED, EXIT_OK, EXIT_USAGE
from .quiet import quiet_logs

__all__ = ["probe_opcua"]

_NODE_ID_RE = re.compile(r"^(?:(?:ns=\d{1,5}|nsu=[^;]+);)?(?:i=\d{1,10}|s=.+|g=[0-9A-Fa-f-]{36})$")


def probe_opcua(
    url: str,
    browse: str | None,
    depth: int,
    emit_tags: bool,
    username: str | None,
    password: str | None,
    console: Console,
    *,
    timeout_s: float = 5.0,
) -> int:
    """Browse ``url`` from Objects (or ``browse``) ``depth`` levels down and print what is there.

    ``browse`` is a browse path (``2:Plant/2:cnc-1``, namespace indexes optional) or a node id
    (``ns=2;s=cnc-1``). Security policy None; anonymous unless ``username`` and ``password``.
    With ``emit_tags`` prints a YAML ``tags:`` block instead of the tree. Returns the exit code:
    0 browsed, 2 a usage error, 3 the server is unreachable, refused the session or has no such
    start node. Never raises for a user mistake or a server fault.
    """
    try:
        device = _device(url, username, password, timeout_s, depth)
        start_tag = _start_tag(browse)
    except ValueError as exc:
        console.print(f"[red]error:[/red] {exc}", highlight=False)
        return EXIT_USAGE
    with quiet_logs("asyncua", "agent.sources.opcua"):
        try:
            root, walk = asyncio.run(browse_server(device, start_tag, depth))
        except ProbeFailed as exc:
            console.print(f"[red]error:[/red] {url}: {exc}", highlight=False)
            if exc.hint:
                console.print(exc.hint, highlight=False)
            return EXIT_DEVICE_FAILED
    if emit_tags:
        console.out(tags_yaml(root, url), highlight=False, end="")
        return EXIT_OK
    console.print(render_tree(root))
    for note in notes(root, walk, depth):
        console.print(note, style="yellow", highlight=False)
    return EXIT_OK


def _device(
    url: str, username: str | None, password: str | None, timeout_s: float, depth: int
) -> OpcUaDeviceConfig:
    """The device settings the agent's session code takes; raises ValueError for bad input."""
    parts = urlsplit(url)
    if parts.scheme != "opc.tcp" or not parts.hostname:
        raise ValueError(f"URL {url!r}: expected an endpoint such as opc.tcp://192.168.1.20:4840")
    if (username is None) != (password is None):
        raise ValueError("--user and --password: expected both (username login) or neither")
    if not 0 <= depth <= 20:
        raise ValueError(f"--depth {depth}: expected 0..20")
    if not 0.05 <= timeout_s <= 60:
        raise ValueError(f"--timeout {timeout_s:g}: expected 0.05..60 s")
    login = {"auth": "username", "username": username, "password": password} if username else {}
    try:
        return OpcUaDeviceConfig.model_validate(
            {
                "id": "probe",
                "protocol": "opcua",
                "endpoint": url,
                "timeout_s": timeout_s,
                "tags": {"objects": {"node": "i=85"}},  # required by the model, never read
                **login,
            }
        )
    except ValidationError as exc:
        raise ValueError(_first_error(exc)) from None


def _first_error(exc: ValidationError) -> str:
    error = exc.errors()[0]
    where = ".".join(str(part) for part in error["loc"])
    return f"{where}: {error['msg']}"


def _start_tag(browse: str | None) -> OpcUaTagConfig | None:
    """The start node as a tag (node id or browse path); None for Objects. Raises ValueError."""
    if browse is None:
        return None
    key = "node" if _NODE_ID_RE.fullmatch(browse) else "browse_path"
    try:
        return OpcUaTagConfig.model_validate({key: browse})
    except ValidationError as exc:
        raise ValueError(f"--browse {browse!r}: {exc.errors()[0]['msg']}") from None
