"""Reading a configuration file as hostile input: YAML with line marks, limits, ``${VAR}``.

The file is parsed with a :class:`yaml.SafeLoader` subclass (no Python tags) into nodes, and
the nodes are turned into plain data by our own walk, which records the line of every key path,
rejects duplicate keys (YAML would keep the last silently), bounds aliases, depth and total size
(no alias bombs), and substitutes environment variables in strings.

Scalars follow the YAML 1.2 core schema rather than PyYAML's YAML 1.1 default: ``on``, ``off``,
``yes``, ``no`` are strings (``off`` is a machine state), ``12:30`` is a string and not the
sexagesimal integer 750, and ``010`` is ten.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from contract.configfile.types import describe_value
from contract.errors import ConfigFileError, ConfigInvalidError, ConfigIssue, InputFileError
from contract.files import read_bounded

__all__ = [
    "MAX_ALIASES",
    "MAX_CONFIG_BYTES",
    "MAX_DEPTH",
    "MAX_NODES",
    "KeyPath",
    "MarkedData",
    "format_path",
    "parse_yaml",
    "read_config_text",
]

#: Largest configuration file read, in bytes. A gateway config is a few kB.
MAX_CONFIG_BYTES = 1024 * 1024
#: Most aliases (``*name``) a file may use: enough to share a tag block across many devices.
MAX_ALIASES = 200
#: Deepest nesting of mappings and lists.
MAX_DEPTH = 32
#: Most values after aliases are expanded: bounds what a chain of aliases can multiply into.
MAX_NODES = 200_000

KeyPath = tuple[str | int, ...]

_ENV_RE = re.compile(r"\$\$|\$\{([^}]*)\}|\$\{")
_ENV_NAME_RE = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)(?::-(.*))?$", re.DOTALL)
# Tags the walker accepts: YAML's plain scalars, mappings and lists. Anything else, including
# !!python/... and !!binary, is refused rather than constructed.
_PLAIN_TAGS = frozenset(
    f"tag:yaml.org,2002:{name}"
    for name in ("str", "int", "float", "bool", "null", "timestamp", "map", "seq")
)
_KEY_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")


def format_path(path: KeyPath) -> str:
    """``('devices', 2, 'tags', 'count')`` as ``devices[2].tags.count``."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        elif _KEY_RE.fullmatch(part):
            text += f".{part}" if text else part
        else:
            text += f"[{part!r}]"
    return text


class _Limit(Exception):
    """A limit of hostile input was hit; the message says which."""

    def __init__(self, line: int, message: str) -> None:
        self.line = line
        self.message = message
        super().__init__(message)


class _Loader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 core scalars, counting aliases and bounding depth."""

    yaml_implicit_resolvers: dict[Any, Any] = {}  # noqa: RUF012 - PyYAML's class-level registry

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.alias_count = 0
        self.depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            self.alias_count += 1
            if self.alias_count > MAX_ALIASES:
                line = self._event_line() + 1
                raise _Limit(line, f"more than {MAX_ALIASES} aliases; expected a plain config")
        self.depth += 1
        try:
            if self.depth > MAX_DEPTH:
                line = self._event_line() + 1
                raise _Limit(line, f"nested deeper than {MAX_DEPTH} levels")
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1

    def _event_line(self) -> int:
        event: yaml.Event = self.peek_event()  # type: ignore[no-untyped-call]  # untyped stub
        return 0 if event.start_mark is None else int(event.start_mark.line)

    def construct_yaml_int(self, node: yaml.ScalarNode) -> int:
        # YAML 1.2: decimal (leading zeros allowed, not octal) or 0x hexadecimal.
        text = str(self.construct_scalar(node)).replace("_", "")
        if text.lstrip("+-").lower().startswith("0x"):
            return int(text, 16)
        return int(text, 10)


_IMPLICIT = (
    ("tag:yaml.org,2002:bool", r"^(?:true|True|TRUE|false|False|FALSE)$", "tTfF"),
    ("tag:yaml.org,2002:int", r"^(?:[-+]?[0-9][0-9_]*|[-+]?0x[0-9a-fA-F_]+)$", "-+0123456789"),
    (
        "tag:yaml.org,2002:float",
        r"^(?:[-+]?(?:\.[0-9]+|[0-9][0-9_]*(?:\.[0-9_]*)?)(?:[eE][-+]?[0-9]+)?"
        r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$",
        "-+.0123456789",
    ),
    ("tag:yaml.org,2002:null", r"^(?:~|null|Null|NULL|)$", ["~", "n", "N", ""]),
    (
        "tag:yaml.org,2002:timestamp",
        r"^(?:[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]"
        r"|[0-9][0-9][0-9][0-9]-[0-9][0-9]?-[0-9][0-9]?"
        r"(?:[Tt]|[ \t]+)[0-9][0-9]?:[0-9][0-9]:[0-9][0-9](?:\.[0-9]*)?"
        r"(?:[ \t]*(?:Z|[-+][0-9][0-9]?(?::[0-9][0-9])?))?)$",
        "0123456789",
    ),
    ("tag:yaml.org,2002:merge", r"^(?:<<)$", "<"),
)
for _tag, _pattern, _first in _IMPLICIT:
    _Loader.add_implicit_resolver(_tag, re.compile(_pattern), list(_first))
_Loader.add_constructor("tag:yaml.org,2002:int", _Loader.construct_yaml_int)


def read_config_text(path: Path) -> str:
    """Read a configuration file as UTF-8 text within the size limit.

    Raises ConfigFileError naming the file and why it cannot be used (missing, a directory,
    not a regular file, unreadable, too large, binary, not UTF-8).
    """
    source = str(path)

    def fail(message: str) -> ConfigFileError:
        return ConfigFileError((ConfigIssue(source, None, "", message),))

    try:
        content = read_bounded(path, MAX_CONFIG_BYTES, expected="a YAML file")
    except InputFileError as exc:
        if exc.reason == "too_large":
            raise fail(
                f"larger than {MAX_CONFIG_BYTES} bytes, expected a configuration of a few kB"
            ) from None
        raise fail(exc.detail) from None
    if b"\x00" in content:
        raise fail("binary content (NUL bytes), expected YAML text")
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise fail(
            f"not UTF-8 text (byte {content[exc.start]:#04x} at offset {exc.start})"
        ) from None


@dataclass
class MarkedData:
    """Plain data from a YAML file, with the 1-based line of each key path."""

    data: Any
    lines: dict[KeyPath, int]
    issues: list[ConfigIssue] = field(default_factory=list)

    def line_of(self, path: KeyPath) -> int | None:
        """Line of ``path`` or of its nearest ancestor that is in the file."""
        for end in range(len(path), -1, -1):
            line = self.lines.get(path[:end])
            if line is not None:
                return line
        return None


class _Walker:
    """Turns composed YAML nodes into plain data, recording lines and problems."""

    def __init__(self, loader: _Loader, source: str, env: Mapping[str, str]) -> None:
        self.loader = loader
        self.source = source
        self.env = env
        self.nodes = 0
        self.lines: dict[KeyPath, int] = {}
        self.issues: list[ConfigIssue] = []
        self.reported: set[tuple[int, str]] = set()

    def issue(self, line: int, path: KeyPath, message: str) -> None:
        # An aliased block is walked once per use; its problem is reported once, at its first
        # path (where the anchor is defined).
        if (line, message) in self.reported:
            return
        self.reported.add((line, message))
        self.issues.append(ConfigIssue(self.source, line, format_path(path), message))

    def value(self, node: yaml.Node, path: KeyPath) -> Any:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise _Limit(node.start_mark.line + 1, f"more than {MAX_NODES} values after aliases")
        if node.tag not in _PLAIN_TAGS:
            self.issue(
                node.start_mark.line + 1,
                path,
                f"got the tag {node.tag!r}, expected plain YAML values (no ! tags)",
            )
            return None
        if isinstance(node, yaml.MappingNode):
            return self.mapping(node, path)
        if isinstance(node, yaml.SequenceNode):
            items = []
            for index, item in enumerate(node.value):
                self.lines.setdefault((*path, index), item.start_mark.line + 1)
                items.append(self.value(item, (*path, index)))
            return items
        return self.scalar(node, path)

    def scalar(self, node: yaml.Node, path: KeyPath) -> Any:
        try:
            value = self.loader.construct_object(node, deep=True)
        except yaml.YAMLError as exc:
            problem = getattr(exc, "problem", None) or str(exc)
            self.issue(node.start_mark.line + 1, path, f"cannot read value: {problem}")
            return None
        except ValueError:
            self.issue(node.start_mark.line + 1, path, f"cannot read value {node.value!r}")
            return None
        if isinstance(value, str) and node.tag == "tag:yaml.org,2002:str":
            return self.substitute(value, node.start_mark.line + 1, path)
        return value

    def mapping(self, node: yaml.MappingNode, path: KeyPath) -> dict[Any, Any]:
        result: dict[Any, Any] = {}
        key_lines: dict[Any, int] = {}
        merged: dict[Any, tuple[Any, dict[KeyPath, int]]] = {}
        for key_node, value_node in node.value:
            line = key_node.start_mark.line + 1
            if key_node.tag == "tag:yaml.org,2002:merge":
                merged.update(self.merge_sources(value_node, path, line))
                continue
            if not isinstance(key_node, yaml.ScalarNode):
                self.issue(line, path, "got a list or mapping as a key, expected a plain name")
                continue
            key = self.loader.construct_object(key_node)
            if key in key_lines:
                self.issue(
                    line,
                    (*path, key),
                    f"duplicate key (first at line {key_lines[key]}); YAML would silently keep "
                    "only the last, expected each key once",
                )
                continue
            key_lines[key] = line
            self.lines[(*path, key)] = line
            result[key] = self.value(value_node, (*path, key))
        for key, (value, lines) in merged.items():
            if key not in result:
                result[key] = value
                self.lines.update(lines)
        return result

    def merge_sources(
        self, node: yaml.Node, path: KeyPath, line: int
    ) -> dict[Any, tuple[Any, dict[KeyPath, int]]]:
        """Keys merged with ``<<: *anchor`` or ``<<: [*a, *b]`` (earlier sources win).

        Each key comes with the lines of its own subtree, so a key overridden in the mapping
        leaves no line marks of the value it replaced.
        """
        sources = node.value if isinstance(node, yaml.SequenceNode) else [node]
        found: dict[Any, tuple[Any, dict[KeyPath, int]]] = {}
        for source in reversed(sources):
            if not isinstance(source, yaml.MappingNode):
                self.issue(line, path, "got a non-mapping after '<<', expected a mapping alias")
                continue
            saved, self.lines = self.lines, {}
            try:
                data = self.mapping(source, path)
                lines = self.lines
            finally:
                self.lines = saved
            for key, value in data.items():
                prefix = (*path, key)
                subtree = {p: n for p, n in lines.items() if p[: len(prefix)] == prefix}
                found[key] = (value, subtree)
        return found

    def substitute(self, text: str, line: int, path: KeyPath) -> str:
        """Replace ``${NAME}`` and ``${NAME:-default}``; ``$$`` is a literal ``$``."""
        if "$" not in text:
            return text

        def replace(match: re.Match[str]) -> str:
            if match.group(0) == "$$":
                return "$"
            inner = match.group(1)
            parsed = _ENV_NAME_RE.fullmatch(inner) if inner is not None else None
            if parsed is None:
                shown = describe_value(text)
                self.issue(
                    line,
                    path,
                    f"got {shown}, expected ${{NAME}} or ${{NAME:-default}} with NAME of "
                    "letters, digits and _ (write $$ for a literal $)",
                )
                return ""
            name, default = parsed.group(1), parsed.group(2)
            if name in self.env:
                return self.env[name]
            if default is not None:
                return default
            self.issue(
                line,
                path,
                f"environment variable {name} is not set, expected it to be set (or write "
                f"${{{name}:-default}})",
            )
            return ""

        return _ENV_RE.sub(replace, text)


def parse_yaml(text: str, source: str, env: Mapping[str, str] | None = None) -> MarkedData:
    """Parse configuration text into plain data with line marks and ``${VAR}`` substituted.

    Problems that still let the rest be read (duplicate keys, missing variables) are returned in
    ``issues``. Raises ConfigInvalidError when the text cannot be parsed at all (YAML syntax, an
    unsupported tag, a limit of aliases, depth or size).
    """
    loader = _Loader(text)
    try:
        root = loader.get_single_node()
        walker = _Walker(loader, source, os.environ if env is None else env)
        data = walker.value(root, ()) if root is not None else None
    except _Limit as exc:
        raise _invalid(source, exc.line, exc.message) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        detail = exc.problem or str(exc)
        context = f" ({exc.context})" if exc.context else ""
        raise _invalid(source, line, f"YAML syntax error: {detail}{context}") from None
    except yaml.YAMLError as exc:
        raise _invalid(source, None, f"YAML error: {exc}") from None
    except RecursionError:
        raise _invalid(source, None, "nested too deeply") from None
    finally:
        loader.dispose()
    walker.lines.setdefault((), 1)
    return MarkedData(data, walker.lines, walker.issues)


def _invalid(source: str, line: int | None, message: str) -> ConfigInvalidError:
    return ConfigInvalidError((ConfigIssue(source, line, "", message),))
