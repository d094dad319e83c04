"""Reading a plan file: YAML with line marks, the schema, the programme's rules, a digest.

The agent's loader does the hostile-input work (size limit, duplicate keys, alias and depth
limits, YAML 1.2 scalars) and turns pydantic errors into ``file:line key.path: message``;
this module adds the plan's rules and converts the agent's errors into the collector's.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from collector.errors import IdCollision
from collector.plan.errors import PlanFileError, PlanInvalidError
from collector.plan.model import Plan
from collector.plan.rules import Finding, check_plan
from contract.configfile.document import ordered_issues, parse_document
from contract.configfile.yamlload import KeyPath, MarkedData, format_path, read_config_text
from contract.errors import ConfigFileError, ConfigInvalidError, ConfigIssue

__all__ = [
    "LoadedPlan",
    "collision_issues",
    "load_plan_yaml",
    "parse_plan",
    "plan_changes",
    "plan_content",
    "plan_digest",
]


@dataclass(frozen=True, slots=True)
class LoadedPlan:
    """A valid plan, its file text, its digest, and the warnings found in it.

    ``digest`` (``sha256:<hex>``) is over :func:`plan_content`: it changes when a value changes,
    not when comments or formatting do.
    """

    plan: Plan
    source: str
    text: str
    digest: str
    warnings: tuple[ConfigIssue, ...]
    lines: Mapping[KeyPath, int]
    #: Where each key path is in a source without lines (a workbook: ``plan.xlsx sheet
    #: '企业 Enterprises' row 5 column B``); empty for a YAML file, whose ``lines`` say it.
    places: Mapping[KeyPath, str] = field(default_factory=dict)


def load_plan_yaml(path: Path) -> LoadedPlan:
    """Read and validate the YAML plan file at ``path`` (:func:`collector.plan.load_plan`
    reads either kind).

    Raises PlanFileError if the file cannot be read, PlanInvalidError listing every error (and
    the warnings found besides) if its content is not a valid plan.
    """
    try:
        text = read_config_text(path)
    except ConfigFileError as exc:
        raise PlanFileError(exc.issues) from None
    return parse_plan(text, str(path))


def parse_plan(text: str, source: str) -> LoadedPlan:
    """Validate plan text; ``source`` names it in messages. Raises PlanInvalidError."""
    try:
        # No environment substitution: a plan is a document, its content must not depend on
        # the shell that loads it. ``${`` is refused as an unset variable; ``$$`` is a ``$``.
        plan, marked = parse_document(
            text,
            source,
            Plan,
            env={},
            expected="a mapping with province, batch_year, sub_industries and platforms",
        )
    except ConfigInvalidError as exc:
        raise PlanInvalidError(exc.issues) from None
    findings = [_issue(marked, source, finding) for finding in check_plan(plan)]
    errors = [issue for issue in findings if issue.severity == "error"]
    warnings = ordered_issues([], [issue for issue in findings if issue.severity == "warning"])
    if errors:
        raise PlanInvalidError(ordered_issues(errors, []), warnings)
    return LoadedPlan(plan, source, text, plan_digest(plan), warnings, marked.lines)


def plan_content(plan: Plan) -> str:
    """The plan as canonical JSON (sorted keys, no whitespace): what the registry stores."""
    return json.dumps(
        plan.model_dump(mode="json"), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )


def stored_plan(plan: Plan) -> Plan:
    """The plan as the registry gives it back: rebuilt from :func:`plan_content`, so every
    mapping (an enterprise's ``targets``) comes in key order, whatever order the file had.

    The evidence engine lists KPIs in ``targets`` order, and the collector runs it on the
    registry's plan: a verifier recomputing from a file must use this form too.
    """
    return Plan.model_validate(json.loads(plan_content(plan)))


def plan_digest(plan: Plan) -> str:
    """``sha256:<hex>`` of :func:`plan_content`."""
    return "sha256:" + hashlib.sha256(plan_content(plan).encode("utf-8")).hexdigest()


def _issue(marked: MarkedData, source: str, finding: Finding) -> ConfigIssue:
    line = marked.line_of(finding.path)
    return ConfigIssue(source, line, format_path(finding.path), finding.message, finding.severity)


#: Most changes listed for one new version; the rest are counted.
MAX_CHANGES_LISTED = 200


def plan_changes(old_content: str | None, new_content: str) -> tuple[str, ...]:
    """What changed between two versions' contents, one ``path: old -> new`` line each.

    Lists of mappings with an ``id`` are matched by id, so a reordered list or an inserted
    enterprise reads as what it is: ``platforms[plat-a].enterprises[ent-04].targets.oee.size:
    5.0 -> 6.0``. The first version reads ``(first version)``.
    """
    if old_content is None:
        return ("(first version)",)
    found: list[str] = []
    _diff(json.loads(old_content), json.loads(new_content), "", found)
    if len(found) > MAX_CHANGES_LISTED:
        extra = len(found) - MAX_CHANGES_LISTED
        found = [*found[:MAX_CHANGES_LISTED], f"... and {extra} more changes"]
    return tuple(found)


def _shown_json(value: object) -> str:
    text = json.dumps(value, ensure_ascii=False, sort_keys=True)
    return text if len(text) <= 80 else text[:77] + "..."


def _by_id(items: list[object]) -> dict[str, object] | None:
    ids = [item.get("id") for item in items if isinstance(item, dict)]
    if len(ids) != len(items) or not all(isinstance(i, str) for i in ids):
        return None
    if len(set(ids)) != len(ids):
        return None
    return {str(i): item for i, item in zip(ids, items, strict=True)}


def _diff(old: object, new: object, path: str, found: list[str]) -> None:
    if old == new:
        return
    if isinstance(old, dict) and isinstance(new, dict):
        for key in sorted(set(old) | set(new)):
            child = f"{path}.{key}" if path else str(key)
            if key not in old:
                found.append(f"{child}: added {_shown_json(new[key])}")
            elif key not in new:
                found.append(f"{child}: removed")
            else:
                _diff(old[key], new[key], child, found)
        return
    if isinstance(old, list) and isinstance(new, list):
        old_ids, new_ids = _by_id(old), _by_id(new)
        if old_ids is not None and new_ids is not None:
            for key in [*old_ids, *(k for k in new_ids if k not in old_ids)]:
                child = f"{path}[{key}]"
                if key not in new_ids:
                    found.append(f"{child}: removed")
                elif key not in old_ids:
                    found.append(f"{child}: added")
                else:
                    _diff(old_ids[key], new_ids[key], child, found)
            return
    found.append(f"{path}: {_shown_json(old)} -> {_shown_json(new)}")


def _id_paths(plan: Plan) -> dict[tuple[str, str], KeyPath]:
    paths: dict[tuple[str, str], KeyPath] = {}
    for p, platform in enumerate(plan.platforms):
        paths[("platform", platform.id)] = ("platforms", p, "id")
        for e, enterprise in enumerate(platform.enterprises):
            paths[("enterprise", enterprise.id)] = ("platforms", p, "enterprises", e, "id")
            for a, agent in enumerate(enterprise.agents):
                at = ("platforms", p, "enterprises", e, "agents", a, "id")
                paths[("agent", agent.id)] = at
    return paths


def _line(loaded: LoadedPlan, path: KeyPath) -> int | None:
    # The line of the id, or of its nearest ancestor the file gives a line for.
    for end in range(len(path), -1, -1):
        line = loaded.lines.get(path[:end])
        if line is not None:
            return line
    return None


def collision_issues(
    loaded: LoadedPlan, collisions: Sequence[IdCollision], registry: Path | str
) -> list[ConfigIssue]:
    """One error per id of ``loaded`` that another plan in ``registry`` holds, with its line."""
    paths = _id_paths(loaded.plan)
    issues = []
    for collision in collisions:
        path = paths.get((collision.kind, collision.id), ())
        holders = ", ".join(k for k in collision.plan_keys if k != loaded.plan.key)
        message = (
            f"{collision.kind} {collision.id} is already held by plan {holders} in registry "
            f"{registry}: ids are unique across all plans (MQTT topics, InfluxDB tags and seq "
            "records name the id alone)"
        )
        place = _place(loaded, path)
        if place is not None:
            issues.append(ConfigIssue(place, None, format_path(path), message))
        else:
            line = _line(loaded, path)
            issues.append(ConfigIssue(loaded.source, line, format_path(path), message))
    return issues


def _place(loaded: LoadedPlan, path: KeyPath) -> str | None:
    for end in range(len(path), -1, -1):
        place = loaded.places.get(path[:end])
        if place is not None:
            return place
    return None
