"""``retrofit-agent probe opcua``: browse a server's node tree, draft the config's ``tags:`` block.

The probe opens a session the way the agent does (:func:`agent.sources.opcua.new_client`), with
security policy None and an anonymous or username login: enough to see what a server offers;
a server that only accepts signed or encrypted sessions refuses it, and the installer then
checks the secured device with ``check-config``. From the Objects folder (or ``--browse`` a
browse path or node id) it walks hierarchical references down ``--depth`` levels, reads every
variable's value and data type in batched Read calls, and prints a tree. ``--tags`` prints a
``tags:`` block instead: one ``info`` tag per scalar variable, with a comment suggesting a role
from the variable's name and type, that validates as it is once indented under a device.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import yaml
from asyncua import ua
from asyncua.client.client import Client
from asyncua.ua.attribute_ids import AttributeIds
from asyncua.ua.object_ids import ObjectIdNames, ObjectIds
from pydantic import ValidationError
from rich.console import Console
from rich.text import Text
from rich.tree import Tree

from agent.config import OpcUaDeviceConfig, OpcUaTagConfig
from agent.sources.base import Quality
from agent.sources.opcua import describe, new_client, quality_of, resolve

from .options import EXIT_DEVICE_FAILED, EXIT_OK, EXIT_USAGE
from .quiet import quiet_logs

__all__ = [
    "MAX_NODES",
    "BrowsedNode",
    "browse_tree",
    "probe_opcua",
    "suggest_role",
    "tags_yaml",
]

#: Nodes one probe visits at most: a big server's full tree is not an installer's question.
MAX_NODES = 2000
#: Node ids per Read request; servers limit a request's size (MaxNodesPerRead), often to 1000.
_READ_BATCH = 200
_NODE_ID_RE = re.compile(r"^(?:(?:ns=\d{1,5}|nsu=[^;]+);)?(?:i=\d{1,10}|s=.+|g=[0-9A-Fa-f-]{36})$")
_PLAIN_YAML_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9=;._/+-]*$")
_TAG_NAME_LIMIT = 64
_INTEGER_BITS = {"Int16": 16, "UInt16": 16, "Int32": 32, "UInt32": 32, "Int64": 64, "UInt64": 64}
_NUMERIC = {*_INTEGER_BITS, "SByte", "Byte", "Float", "Double", "Number", "Integer", "UInteger"}


@dataclass
class BrowsedNode:
    """One node of the walked tree; variables carry their data type, value and status."""

    browse_name: str
    node_id: str
    node_class: str
    path: tuple[str, ...] = ()
    children: list[BrowsedNode] = field(default_factory=list)
    data_type: str = ""
    value: Any = None
    quality: Quality = Quality.GOOD
    status: str | None = None

    @property
    def name(self) -> str:
        """The browse name without its namespace index: ``State`` for ``2:State``."""
        if self.path:
            return self.path[-1]
        index, colon, name = self.browse_name.partition(":")
        return name if colon and index.isdigit() else self.browse_name

    @property
    def is_variable(self) -> bool:
        """True for a Variable node (values are read only for those)."""
        return self.node_class == "Variable"

    def variables(self) -> list[BrowsedNode]:
        """Every variable in this subtree, depth first, in browse order."""
        found = [self] if self.is_variable else []
        for child in self.children:
            found.extend(child.variables())
        return found


@dataclass
class _Walk:
    """What a walk saw besides the tree: skipped standard nodes, unopened objects, truncation."""

    skipped_standard: list[str] = field(default_factory=list)
    unopened_objects: int = 0
    truncated: bool = False


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
            root, walk = asyncio.run(_browse(device, start_tag, depth))
        except _ProbeFailed as exc:
            console.print(f"[red]error:[/red] {url}: {exc}", highlight=False)
            if exc.hint:
                console.print(exc.hint, highlight=False)
            return EXIT_DEVICE_FAILED
    if emit_tags:
        console.out(tags_yaml(root, url), highlight=False, end="")
        return EXIT_OK
    console.print(render_tree(root))
    for note in _notes(root, walk, depth):
        console.print(note, style="yellow", highlight=False)
    return EXIT_OK


class _ProbeFailed(Exception):
    """The server could not be browsed; the message is the reason, ``hint`` what to check."""

    def __init__(self, reason: str, hint: str = "") -> None:
        super().__init__(reason)
        self.hint = hint


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


async def _browse(
    device: OpcUaDeviceConfig, start_tag: OpcUaTagConfig | None, depth: int
) -> tuple[BrowsedNode, _Walk]:
    """Open a session, find the start node, walk and read; raises _ProbeFailed."""
    client = await new_client(device, watchdog_s=max(2.0, device.timeout_s))
    try:
        async with asyncio.timeout(device.timeout_s * 2):
            await client.connect()
    except Exception as exc:  # every way a connect fails is reported the same way
        raise _ProbeFailed(f"cannot open a session: {describe(exc)}", _connect_hint(exc)) from exc
    try:
        start = await _start_node(client, start_tag)
        root = await _describe_start(client, start)
        walk = await browse_tree(client, root, depth, skip_standard=start_tag is None)
        await _read_variables(client, root.variables())
        return root, walk
    except _ProbeFailed:
        raise
    except Exception as exc:  # a failed service call mid-walk: report it, no traceback
        raise _ProbeFailed(f"browsing failed: {describe(exc)}") from exc
    finally:
        with contextlib.suppress(Exception):
            async with asyncio.timeout(device.timeout_s):
                await client.disconnect()


def _connect_hint(exc: BaseException) -> str:
    reason = describe(exc)
    if "Identity" in reason or "UserAccess" in reason:
        return "check --user and --password (or leave both out for an anonymous session)"
    if "Security" in reason or "Certificate" in reason:
        return (
            "the server may accept only signed or encrypted sessions; the probe uses security "
            "None: configure the device with security_policy Basic256Sha256 and run check-config"
        )
    return "check the host, the port (OPC UA usually listens on 4840) and the endpoint path"


async def _start_node(client: Client, start_tag: OpcUaTagConfig | None) -> ua.NodeId:
    """The node the walk starts at; raises _ProbeFailed when the server has no such node."""
    if start_tag is None:
        return ua.NodeId(ua.Int32(ObjectIds.ObjectsFolder))
    lookup = (await resolve(client, {"start": start_tag}))["start"]
    if lookup.node_id is None:
        given = start_tag.node or start_tag.browse_path
        raise _ProbeFailed(
            f"no node at {given!r}: {lookup.reason}",
            "browse without --browse (or with a shorter path) to see the names on this server",
        )
    return lookup.node_id


async def _describe_start(client: Client, node_id: ua.NodeId) -> BrowsedNode:
    """The start node's browse name and class, read from the server (it proves the node exists)."""
    node = client.get_node(node_id)
    names = await client.read_attributes([node], AttributeIds.BrowseName)
    classes = await client.read_attributes([node], AttributeIds.NodeClass)
    quality, reason = quality_of(names[0].StatusCode)
    if quality is Quality.BAD:
        raise _ProbeFailed(
            f"no node {node_id.to_string()}: {reason}",
            "browse without --browse to see the node ids on this server",
        )
    browse_name = names[0].Value.Value if names[0].Value is not None else None
    node_class = classes[0].Value.Value if classes[0].Value is not None else None
    return BrowsedNode(
        browse_name=browse_name.to_string() if browse_name else node_id.to_string(),
        node_id=node_id.to_string(),
        node_class=ua.NodeClass(node_class).name if node_class is not None else "Object",
    )


async def browse_tree(
    client: Client, root: BrowsedNode, depth: int, *, skip_standard: bool
) -> _Walk:
    """Fill ``root.children`` down ``depth`` levels of hierarchical references, level by level.

    Objects are opened, variables are not (their children are properties such as EURange). With
    ``skip_standard`` the namespace-0 children of the start (the Server object, Aliases,
    Locations) are left out. Each node is visited once however many references lead to it;
    the walk stops after MAX_NODES nodes. Raises asyncua's errors for a failed service call.
    """
    walk = _Walk()
    seen = {root.node_id}
    level = [root]
    for _ in range(depth):
        parents = [node for node in level if node.node_class == "Object"]
        level = []
        for parent, references in zip(parents, await _children(client, parents), strict=True):
            for reference in references:
                node_id = _plain(reference.NodeId)
                node_class = ua.NodeClass(reference.NodeClass).name
                if node_class not in ("Object", "Variable") or node_id.to_string() in seen:
                    continue
                name = reference.BrowseName
                if skip_standard and parent is root and node_id.NamespaceIndex == 0:
                    walk.skipped_standard.append(name.Name)
                    continue
                if len(seen) >= MAX_NODES:
                    walk.truncated = True
                    return walk
                seen.add(node_id.to_string())
                child = BrowsedNode(
                    name.to_string(), node_id.to_string(), node_class, (*parent.path, name.Name)
                )
                parent.children.append(child)
                level.append(child)
    walk.unopened_objects = sum(1 for node in level if node.node_class == "Object")
    return walk


async def _children(
    client: Client, parents: Sequence[BrowsedNode]
) -> list[list[ua.ReferenceDescription]]:
    """Hierarchical forward references of each parent, browsed concurrently in small batches."""
    results: list[list[ua.ReferenceDescription]] = []
    for first in range(0, len(parents), 50):
        batch = parents[first : first + 50]
        results.extend(
            await asyncio.gather(
                *(client.get_node(p.node_id).get_children_descriptions() for p in batch)
            )
        )
    return results


def _plain(node_id: ua.NodeId) -> ua.NodeId:
    # Browse results carry ExpandedNodeIds; their to_string() and equality differ from NodeId's.
    return ua.NodeId(node_id.Identifier, node_id.NamespaceIndex, node_id.NodeIdType)


async def _read_variables(client: Client, variables: Sequence[BrowsedNode]) -> None:
    """Read each variable's value, status and data type in batched Read calls."""
    for first in range(0, len(variables), _READ_BATCH):
        batch = variables[first : first + _READ_BATCH]
        nodes = [client.get_node(ua.NodeId.from_string(v.node_id)) for v in batch]
        values = await client.read_attributes(nodes, AttributeIds.Value)
        types = await client.read_attributes(nodes, AttributeIds.DataType)
        type_names = await _type_names(client, types)
        for variable, data_value, type_name in zip(batch, values, type_names, strict=True):
            quality, reason = quality_of(data_value.StatusCode)
            variable.quality, variable.status, variable.data_type = quality, reason, type_name
            variable.value = data_value.Value.Value if data_value.Value is not None else None


async def _type_names(client: Client, types: Sequence[ua.DataValue]) -> list[str]:
    """Names of the DataType attributes read: built-in types by table, others from the server."""
    type_ids = [dv.Value.Value if dv.Value is not None else None for dv in types]
    custom = sorted(
        {tid.to_string() for tid in type_ids if isinstance(tid, ua.NodeId) and not _builtin(tid)}
    )
    names: dict[str, str] = {}
    if custom:
        nodes = [client.get_node(ua.NodeId.from_string(text)) for text in custom]
        for text, dv in zip(
            custom, await client.read_attributes(nodes, AttributeIds.BrowseName), strict=True
        ):
            qualified = dv.Value.Value if dv.Value is not None else None
            names[text] = qualified.Name if isinstance(qualified, ua.QualifiedName) else text
    result = []
    for tid in type_ids:
        if not isinstance(tid, ua.NodeId):
            result.append("?")
        elif isinstance(tid.Identifier, int) and tid.NamespaceIndex == 0:
            result.append(ObjectIdNames.get(tid.Identifier, tid.to_string()))
        else:
            result.append(names[tid.to_string()])
    return result


def _builtin(type_id: ua.NodeId) -> bool:
    return type_id.NamespaceIndex == 0 and isinstance(type_id.Identifier, int)


# -- output -----------------------------------------------------------------------------------


def render_tree(root: BrowsedNode) -> Tree:
    """A rich Tree: objects by browse name and node id, variables also with type, value, status."""
    tree = Tree(_label(root))
    _add_children(tree, root)
    return tree


def _add_children(branch: Tree, node: BrowsedNode) -> None:
    for child in node.children:
        _add_children(branch.add(_label(child)), child)


def _label(node: BrowsedNode) -> Text:
    label = Text(node.browse_name, style="bold" if not node.is_variable else "")
    label.append(f"  {node.node_id}", style="dim")
    if not node.is_variable:
        return label
    label.append(f"  {node.data_type}", style="cyan")
    if node.quality is not Quality.BAD:
        label.append(f" = {value_text(node.value)}")
    status_style = {Quality.GOOD: "green", Quality.UNCERTAIN: "yellow", Quality.BAD: "red"}
    label.append(f"  {node.status or 'good'}", style=status_style[node.quality])
    return label


def value_text(value: object, limit: int = 60) -> str:
    """A one-line, bounded rendering of a variable's value."""
    if isinstance(value, ua.LocalizedText):
        value = value.Text
    if isinstance(value, list):
        return f"[{len(value)} values]"
    if isinstance(value, float):
        text = f"{value:.10g}"
    elif isinstance(value, datetime):
        text = value.isoformat()
    elif isinstance(value, str):
        text = repr(value)
    else:
        text = str(value)
    text = " ".join(text.split())  # no line breaks: the YAML comments depend on it
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _notes(root: BrowsedNode, walk: _Walk, depth: int) -> list[str]:
    levels = "level" if depth == 1 else "levels"
    notes = [f"{len(root.variables())} variables within {depth} {levels} of {root.browse_name}"]
    if walk.skipped_standard:
        names = ", ".join(walk.skipped_standard)
        notes.append(f"standard nodes not shown: {names} (--browse 0:Server to see the server's)")
    if walk.unopened_objects:
        notes.append(
            f"{walk.unopened_objects} objects at depth {depth} not opened: raise --depth to see "
            "below them"
        )
    if walk.truncated:
        notes.append(f"stopped after {MAX_NODES} nodes: narrow the walk with --browse")
    return notes


def _is_scalar(node: BrowsedNode) -> bool:
    """True if the agent can read the variable as a tag (what ``scaled_value`` accepts)."""
    if node.quality is Quality.BAD:
        return True  # unknown now; its type decides later
    return node.value is None or isinstance(node.value, bool | int | float | str | ua.LocalizedText)


def suggest_role(name: str, data_type: str) -> str | None:
    """A role suggestion for a variable from its browse name and data type, or None.

    Name heuristics: reject/scrap, good, count/parts counters (integer types only, with their
    width), state/status/mode, energy/kWh, power/kW, cycle. A hint, not a decision: the
    installer checks it against the machine's documentation.
    """
    lowered = name.lower()
    bits = _INTEGER_BITS.get(data_type)
    numeric = data_type in _NUMERIC
    width = f"add width: {bits}" if bits else "add width: the counter's rollover bits"
    if data_type in _NUMERIC - {"Float", "Double"} or bits:
        if any(word in lowered for word in ("reject", "scrap", "nok", "bad")):
            return f"reject_count ({width})"
        if "good" in lowered:
            return f"good_count ({width})"
        if any(word in lowered for word in ("count", "parts", "pieces", "stroke", "qty")):
            return f"total_count ({width})"
    if any(word in lowered for word in ("state", "status", "mode")) and data_type not in (
        "Float",
        "Double",
    ):
        return "state (add a state_map: raw value -> running, idle, down, off, planned_stop)"
    if numeric and ("energy" in lowered or "kwh" in lowered):
        return "energy_kwh (a cumulative meter; add scale if it is not in kWh)"
    if numeric and ("power" in lowered or "kw" in lowered):
        return "power_kw (add scale if it is not in kW)"
    if numeric and "cycle" in lowered:
        return "cycle_time_s (add scale if it is not in seconds)"
    return None


def tags_yaml(root: BrowsedNode, url: str) -> str:
    """A ``tags:`` block for the config: one ``info`` tag per scalar variable under ``root``.

    Tag names are the variables' browse names joined by dots below the deepest object all of
    them share, made into valid identifiers; each tag has a comment line with its type, value
    and a suggested role. Variables with array or structure values are listed as skipped.
    """
    variables = root.variables()
    scalar = [v for v in variables if _is_scalar(v)]
    names = _tag_names([v.path or (v.name,) for v in scalar])
    if not scalar:
        return (
            f"# no scalar variables under {root.browse_name} ({root.node_id}) at {url}: "
            "raise --depth or --browse elsewhere\n"
        )
    lines = [
        f"# {len(scalar)} tags from {url}, under {root.browse_name} ({root.node_id}).",
        "# Paste under an opcua device with this endpoint. Every tag is role info: change the",
        "# roles that feed KPIs (at most one tag per role on a device).",
        "tags:",
    ]
    for variable, name in zip(scalar, names, strict=True):
        lines.append(f"  # {_comment(variable)}")
        lines.append(f"  {_yaml_scalar(name)}:")
        lines.append(f"    node: {_yaml_scalar(variable.node_id)}")
        lines.append("    role: info")
    for variable in variables:
        if not _is_scalar(variable):
            lines.append(
                f"# skipped {variable.browse_name} ({variable.node_id}): "
                f"{value_text(variable.value, 30)} is not a scalar; the agent reads scalars only"
            )
    return "\n".join(lines) + "\n"


def _comment(variable: BrowsedNode) -> str:
    now = (
        f"now {value_text(variable.value, 40)}"
        if variable.quality is not Quality.BAD
        else f"now {variable.status}"
    )
    text = f"{variable.data_type}, {now}"
    if role := suggest_role(variable.name, variable.data_type):
        text += f"; suggested role: {role}"
    return text


def _yaml_scalar(text: str) -> str:
    """``text`` as a YAML string: plain when it reads back as itself, else double-quoted.

    A plain ``2024``, ``on`` or ``null`` would load as a number, a bool or None (YAML 1.1, as
    PyYAML reads it), so those are quoted too; JSON's double-quoted strings are valid YAML.
    """
    if _PLAIN_YAML_RE.fullmatch(text) and yaml.safe_load(text) == text:
        return text
    return json.dumps(text)


def _tag_names(paths: Sequence[tuple[str, ...]]) -> list[str]:
    """Unique identifiers from browse-name paths, dropping the path prefix all share."""
    parents = [path[:-1] for path in paths]
    shared = 0
    if parents:
        while all(len(p) > shared and p[shared] == parents[0][shared] for p in parents):
            shared += 1
    taken: set[str] = set()
    names = []
    for index, path in enumerate(paths, start=1):
        name = _identifier(".".join(path[shared:])) or f"tag{index}"
        unique, suffix = name, 2
        while unique in taken:
            unique = f"{name[: _TAG_NAME_LIMIT - 4]}_{suffix}"
            suffix += 1
        taken.add(unique)
        names.append(unique)
    return names


def _identifier(text: str) -> str:
    """``text`` as a config identifier: [A-Za-z0-9._-], starting alphanumeric, 64 at most."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]", "_", text)[-_TAG_NAME_LIMIT:]
    return cleaned.lstrip("._-")
