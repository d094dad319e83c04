"""YAML loading that keeps the line of every value, so validation errors can name it."""

from __future__ import annotations

from typing import Any

import yaml

__all__ = ["LineMap", "load_with_lines"]

LineMap = dict[tuple[str | int, ...], int]


def load_with_lines(text: str) -> tuple[Any, LineMap]:
    """Parse YAML text into plain Python data plus a map from key path to 1-based line.

    Raises yaml.YAMLError when the text is not valid YAML.
    """
    node = yaml.compose(text, Loader=yaml.SafeLoader)
    lines: LineMap = {}
    if node is None:
        return None, lines
    return _build(node, (), lines), lines


def _build(node: yaml.Node, path: tuple[str | int, ...], lines: LineMap) -> Any:
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        mapping: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = yaml.SafeLoader(  # scalars keep YAML's own typing (ints, dates, bools)
                ""
            ).construct_object(key_node)
            mapping[key] = _build(value_node, (*path, str(key)), lines)
        return mapping
    if isinstance(node, yaml.SequenceNode):
        return [_build(item, (*path, index), lines) for index, item in enumerate(node.value)]
    return yaml.SafeLoader("").construct_object(node)
