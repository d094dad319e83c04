"""Dashboard files as the checker and the uploader see them: variables, panel and annotation
queries, read from Grafana's JSON model with clear errors for anything else.

Only what we ship is supported: InfluxQL in raw mode (``rawQuery``), query, custom, constant and
datasource variables. A file that uses something else is refused with its name and the panel
at fault rather than half checked.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from collector.dashboards.errors import DashboardFileError
from contract.errors import InputFileError
from contract.files import read_bounded

__all__ = [
    "MAX_DASHBOARD_BYTES",
    "DashboardFile",
    "DashboardFileError",
    "QuerySpec",
    "Variable",
    "load_dashboard",
    "load_dashboards",
]

#: Our dashboards are 15-20 KB; a file many times that is not one of them.
MAX_DASHBOARD_BYTES = 2_000_000
_VARIABLE_KINDS = ("query", "custom", "constant", "datasource", "textbox")


@dataclass(frozen=True, slots=True)
class Variable:
    """A template variable: ``kind`` is Grafana's type; ``options`` the fixed values of a
    custom variable; ``all_value`` what *All* stands for (None: every value as a regex)."""

    name: str
    kind: str
    query: str
    multi: bool
    include_all: bool
    all_value: str | None
    current: str | None
    options: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class QuerySpec:
    """One InfluxQL query of a panel (or an annotation), and where it sits."""

    where: str  # e.g. "panel 'Outbox depth per agent' query A"
    panel: str
    text: str
    #: The panel's ``fieldConfig.defaults.noValue`` (what Grafana shows when its queries return
    #: nothing), set only on a panel that lists problems, where no rows is the good state.
    no_value: str | None = None


@dataclass(frozen=True, slots=True)
class DashboardFile:
    """A dashboard file: its JSON model and what the checker needs from it."""

    path: Path
    uid: str
    title: str
    model: Mapping[str, Any]
    variables: tuple[Variable, ...]
    queries: tuple[QuerySpec, ...] = field(default=())


def _text(value: Any) -> str | None:
    if isinstance(value, Mapping):
        value = value.get("value")
    if isinstance(value, list):
        value = value[0] if value else None
    return None if value is None else str(value)


def _variable(raw: Mapping[str, Any], problems: list[str]) -> Variable | None:
    name, kind = str(raw.get("name", "")), str(raw.get("type", ""))
    if kind not in _VARIABLE_KINDS:
        problems.append(f"variable {name!r}: type {kind!r} is not supported ({_VARIABLE_KINDS})")
        return None
    query = raw.get("query", "")
    if isinstance(query, Mapping):  # newer Grafana keeps {"query": "..."} for some datasources
        query = query.get("query", "")
    options = tuple(
        str(o.get("value")) for o in raw.get("options", []) if isinstance(o, Mapping)
    ) or tuple(part.strip() for part in str(query).split(",") if part.strip())
    return Variable(
        name=name,
        kind=kind,
        query=str(query),
        multi=bool(raw.get("multi", False)),
        include_all=bool(raw.get("includeAll", False)),
        all_value=raw.get("allValue") or None,
        current=_text(raw.get("current")),
        options=options if kind == "custom" else (),
    )


def _panels(panels: Any) -> Iterator[Mapping[str, Any]]:
    for panel in panels if isinstance(panels, list) else []:
        if not isinstance(panel, Mapping):
            continue
        yield panel
        yield from _panels(panel.get("panels"))  # a collapsed row keeps its panels inside


def _panel_queries(panel: Mapping[str, Any], problems: list[str]) -> list[QuerySpec]:
    title = str(panel.get("title", f"id {panel.get('id')}"))
    specs = []
    for target in panel.get("targets") or []:
        ref = target.get("refId", "?")
        if not target.get("rawQuery") or not isinstance(target.get("query"), str):
            problems.append(f"panel {title!r} query {ref}: not a raw InfluxQL query")
            continue
        specs.append(
            QuerySpec(f"panel {title!r} query {ref}", title, target["query"], _no_value(panel))
        )
    return specs


def _no_value(panel: Mapping[str, Any]) -> str | None:
    defaults = (panel.get("fieldConfig") or {}).get("defaults") or {}
    text = defaults.get("noValue") if isinstance(defaults, Mapping) else None
    return text if isinstance(text, str) and text else None


def _annotation_queries(model: Mapping[str, Any]) -> list[QuerySpec]:
    specs = []
    for item in (model.get("annotations") or {}).get("list", []):
        if item.get("builtIn") or not isinstance(item.get("query"), str):
            continue
        name = str(item.get("name", "?"))
        specs.append(QuerySpec(f"annotation {name!r}", name, item["query"]))
    return specs


def load_dashboard(path: Path) -> DashboardFile:
    """Read one dashboard file; DashboardFileError lists every problem found."""
    try:
        raw = read_bounded(path, MAX_DASHBOARD_BYTES, expected="a dashboard JSON file")
    except InputFileError as exc:
        raise DashboardFileError(path, [exc.detail]) from None
    try:
        model = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DashboardFileError(path, [f"not a readable JSON file: {exc}"]) from exc
    if not isinstance(model, dict) or not isinstance(model.get("panels"), list):
        raise DashboardFileError(path, ["expected a Grafana dashboard object with panels"])
    problems: list[str] = []
    variables = [
        v
        for item in (model.get("templating") or {}).get("list", [])
        if (v := _variable(item, problems)) is not None
    ]
    queries = [q for p in _panels(model["panels"]) for q in _panel_queries(p, problems)]
    queries += _annotation_queries(model)
    for key in ("uid", "title"):
        if not isinstance(model.get(key), str) or not model[key]:
            problems.append(f"no {key}")
    if problems:
        raise DashboardFileError(path, problems)
    return DashboardFile(
        path, model["uid"], model["title"], model, tuple(variables), tuple(queries)
    )


def load_dashboards(folder: Path) -> list[DashboardFile]:
    """Every ``*.json`` dashboard in ``folder``, by file name; DashboardFileError on the first
    bad file, or if there is none."""
    paths = sorted(folder.glob("*.json"))
    if not paths:
        raise DashboardFileError(folder, ["no *.json dashboard files"])
    return [load_dashboard(path) for path in paths]
