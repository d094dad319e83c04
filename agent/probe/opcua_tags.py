"""What ``retrofit-agent probe opcua`` prints: the browsed tree, or a ready ``tags:`` block.

The tree shows objects by browse name and node id, variables also with data type, value and
status. The ``tags:`` block has one ``info`` tag per scalar variable, with a comment suggesting
a role from the variable's name and type, and validates as it is once indented under a device.
Rendering only: the :class:`~.opcua_browse.BrowsedNode` tree comes in.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from datetime import datetime

import yaml
from asyncua import ua
from rich.text import Text
from rich.tree import Tree

from agent.sources.base import Quality

from .opcua_browse import MAX_NODES, BrowsedNode, Walk

__all__ = ["notes", "render_tree", "suggest_role", "tags_yaml", "value_text"]

_PLAIN_YAML_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9=;._/+-]*$")
_TAG_NAME_LIMIT = 64
_INTEGER_BITS = {"Int16": 16, "UInt16": 16, "Int32": 32, "UInt32": 32, "Int64": 64, "UInt64": 64}
_NUMERIC = {*_INTEGER_BITS, "SByte", "Byte", "Float", "Double", "Number", "Integer", "UInteger"}


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


def notes(root: BrowsedNode, walk: Walk, depth: int) -> list[str]:
    """What the tree leaves out: its variable count, skipped standard nodes, where it stopped."""
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
