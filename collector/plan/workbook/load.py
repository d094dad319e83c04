"""Loading a plan workbook: the file checked, its sheets read, the model and rules applied.

The second reader of the one plan model: the same :class:`~collector.plan.Plan`, the same
programme rules (:func:`~collector.plan.check_plan`), the same errors (PlanFileError for a file
that cannot be opened, PlanInvalidError listing every problem) as the YAML reader; each issue
names ``sheet, row, column`` where a YAML issue names its line.
"""

from __future__ import annotations

import io
import logging
import warnings
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import ValidationError

from collector.plan.errors import PlanFileError, PlanInvalidError
from collector.plan.file import LoadedPlan, plan_digest
from collector.plan.model import Plan
from collector.plan.rules import Finding, check_plan
from collector.plan.workbook.archive import WorkbookRefused, read_workbook_bytes
from collector.plan.workbook.layout import SHEETS
from collector.plan.workbook.read import read_sheets
from collector.plan.workbook.sheetdata import CellRef, SheetData
from collector.plan.yaml_export import plan_yaml
from contract.configfile.issues import validation_issues
from contract.configfile.yamlload import MarkedData, format_path
from contract.errors import ConfigIssue, InputFileError

if TYPE_CHECKING:
    from openpyxl.workbook.workbook import Workbook

__all__ = ["load_plan_workbook"]

log = logging.getLogger(__name__)


def load_plan_workbook(path: Path) -> LoadedPlan:
    """Read and validate the plan workbook (``.xlsx``) at ``path``.

    Raises PlanFileError if the file cannot be read or is not a workbook this reader opens
    (too large, a zip bomb, not a zip archive, an ``.xls``), PlanInvalidError listing every
    error (and the warnings found besides) with its sheet, row and column.
    """
    source = str(path)
    try:
        content = read_workbook_bytes(path)
    except InputFileError as exc:
        raise PlanFileError((ConfigIssue(source, None, "", exc.detail),)) from None
    except WorkbookRefused as exc:
        raise PlanFileError((ConfigIssue(source, None, "", str(exc)),)) from None
    return plan_from_sheets(read_sheets(_open(content, source)), source)


def _open(content: bytes, source: str) -> Workbook:
    from openpyxl import load_workbook  # openpyxl loads only when used

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            # data_only=False: a formula stays a formula, so the reader can refuse it (the
            # cached value of a formula is whatever the last program to save the file computed).
            workbook = load_workbook(io.BytesIO(content), data_only=False, keep_links=False)
        except Exception as exc:  # openpyxl raises many kinds on a broken file
            message = f"not a workbook openpyxl can read ({type(exc).__name__}: {exc})"
            raise PlanFileError((ConfigIssue(source, None, "", message[:300]),)) from None
    for warning in caught:  # features openpyxl drops on reading (extensions, slicers)
        log.info("plan workbook %s: openpyxl: %s", source, warning.message)
    return workbook


def plan_from_sheets(found: SheetData, source: str) -> LoadedPlan:
    """The plan from the sheets read, or PlanInvalidError with every issue at its cell."""
    marked = MarkedData(found.data, found.lines)
    broken = {_place(found, index) for index, _ in found.problems}
    issues = [_located(found, source, index, found.cells[index - 1].key, message)
              for index, message in found.problems]  # fmt: skip
    plan = None
    try:
        plan = Plan.model_validate(found.data)
    except ValidationError as exc:
        for issue in validation_issues(exc, marked, source, root=Plan):
            if _place(found, issue.line) not in broken:  # the reader's message says what to fix
                issues.append(_relocated(found, issue))
    warnings_found: list[ConfigIssue] = []
    if plan is not None:
        for finding in check_plan(plan):
            issue = _at(found, marked, source, finding)
            (issues if finding.severity == "error" else warnings_found).append(issue)
    if issues or plan is None:
        raise PlanInvalidError(
            _in_sheet_order(found, issues), _in_sheet_order(found, warnings_found)
        )
    places = {path: f"{source} {found.cells[i - 1]}" for path, i in found.lines.items()}
    kept = _in_sheet_order(found, warnings_found)
    # The stored source text of a workbook is the plan as YAML (the registry keeps text).
    return LoadedPlan(plan, source, plan_yaml(plan), plan_digest(plan), kept, {}, places)


def _place(found: SheetData, index: int | None) -> tuple[str, int, str] | None:
    if index is None:
        return None
    ref = found.cells[index - 1]
    return (ref.sheet, ref.row, ref.column)


def _located(found: SheetData, source: str, index: int, path: str, message: str) -> ConfigIssue:
    return ConfigIssue(f"{source} {found.cells[index - 1]}", index, path, message)


def _relocated(found: SheetData, issue: ConfigIssue) -> ConfigIssue:
    if issue.line is None:
        return issue
    return _located(found, issue.source, issue.line, issue.path, issue.message)


def _at(found: SheetData, marked: MarkedData, source: str, finding: Finding) -> ConfigIssue:
    index = marked.line_of(finding.path)
    where = source if index is None else f"{source} {found.cells[index - 1]}"
    return ConfigIssue(where, index, format_path(finding.path), finding.message, finding.severity)


def _sort_key(found: SheetData, issue: ConfigIssue) -> tuple[int, int, int, str]:
    if issue.line is None:
        return (-1, 0, 0, issue.path)
    ref: CellRef = found.cells[issue.line - 1]
    order = next((i for i, sheet in enumerate(SHEETS) if sheet.title == ref.sheet), len(SHEETS))
    return (order, ref.row, len(ref.column), ref.column)


def _in_sheet_order(found: SheetData, issues: Iterable[ConfigIssue]) -> tuple[ConfigIssue, ...]:
    # The cell index was only a handle: the issue goes out located by its source text, with
    # no line (a workbook has none), in sheet, row, column order.
    listed = sorted(dict.fromkeys(issues), key=lambda issue: _sort_key(found, issue))
    return tuple(ConfigIssue(i.source, None, i.path, i.message, i.severity) for i in listed)
