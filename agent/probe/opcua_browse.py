"""The walk behind ``retrofit-agent probe opcua``: open a session, find the start, browse, read.

A session the way the agent opens one (:func:`agent.sources.opcua.new_client`); the start node
by node id or browse path; hierarchical references followed level by level into a
:class:`BrowsedNode` tree; every variable's value, status and data type read in batched Read
calls. Failures come out as :class:`ProbeFailed` with a hint; nothing here prints.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from asyncua import ua
from asyncua.client.client import Client
from asyncua.ua.attribute_ids import AttributeIds
from asyncua.ua.object_ids import ObjectIdNames, ObjectIds

from agent.config import OpcUaDeviceConfig, OpcUaTagConfig
from agent.sources.base import Quality
from agent.sources.opcua import describe, new_client, quality_of, resolve

__all__ = ["MAX_NODES", "BrowsedNode", "ProbeFailed", "Walk", "browse_server", "browse_tree"]

#: Nodes one probe visits at most: a big server's full tree is not an installer's question.
MAX_NODES = 2000
#: Node ids per Read request; servers limit a request's size (MaxNodesPerRead), often to 1000.
_READ_BATCH = 200


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
class Walk:
    """What a walk saw besides the tree: skipped standard nodes, unopened objects, truncation."""

    skipped_standard: list[str] = field(default_factory=list)
    unopened_objects: int = 0
    truncated: bool = False


class ProbeFailed(Exception):
    """The server could not be browsed; the message is the reason, ``hint`` what to check."""

    def __init__(self, reason: str, hint: str = "") -> None:
        super().__init__(reason)
        self.hint = hint


async def browse_server(
    device: OpcUaDeviceConfig, start_tag: OpcUaTagConfig | None, depth: int
) -> tuple[BrowsedNode, Walk]:
    """Open a session, find the start node, walk and read; raises ProbeFailed.

    ``start_tag`` None starts at the Objects folder and leaves out its standard nodes.
    """
    client = await new_client(device, watchdog_s=max(2.0, device.timeout_s))
    try:
        async with asyncio.timeout(device.timeout_s * 2):
            await client.connect()
    except Exception as exc:  # every way a connect fails is reported the same way
        raise ProbeFailed(f"cannot open a session: {describe(exc)}", _connect_hint(exc)) from exc
    try:
        start = await _start_node(client, start_tag)
        root = await _describe_start(client, start)
        walk = await browse_tree(client, root, depth, skip_standard=start_tag is None)
        await _read_variables(client, root.variables())
        return root, walk
    except ProbeFailed:
        raise
    except Exception as exc:  # a failed service call mid-walk: report it, no traceback
        raise ProbeFailed(f"browsing failed: {describe(exc)}") from exc
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
    """The node the walk starts at; raises ProbeFailed when the server has no such node."""
    if start_tag is None:
        return ua.NodeId(ua.Int32(ObjectIds.ObjectsFolder))
    lookup = (await resolve(client, {"start": start_tag}))["start"]
    if lookup.node_id is None:
        given = start_tag.node or start_tag.browse_path
        raise ProbeFailed(
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
        raise ProbeFailed(
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
) -> Walk:
    """Fill ``root.children`` down ``depth`` levels of hierarchical references, level by level.

    Objects are opened, variables are not (their children are properties such as EURange). With
    ``skip_standard`` the namespace-0 children of the start (the Server object, Aliases,
    Locations) are left out. Each node is visited once however many references lead to it;
    the walk stops after MAX_NODES nodes. Raises asyncua's errors for a failed service call.
    """
    walk = Walk()
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
