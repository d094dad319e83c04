"""Loading a plan file of either kind: a YAML file or a workbook, by the file's name.

One model, two readers: :func:`collector.plan.file.load_plan_yaml` and
:func:`collector.plan.workbook.load_plan_workbook` return the same
:class:`~collector.plan.LoadedPlan` and raise the same errors.
"""

from __future__ import annotations

from pathlib import Path

from collector.plan.file import LoadedPlan, load_plan_yaml

__all__ = ["WORKBOOK_SUFFIXES", "load_plan"]

#: File name endings read as a plan workbook; every other file is read as YAML.
WORKBOOK_SUFFIXES = frozenset({".xlsx"})


def load_plan(path: Path) -> LoadedPlan:
    """Read and validate the plan file at ``path``: a workbook if its name ends ``.xlsx``,
    otherwise YAML.

    Raises PlanFileError if the file cannot be read, PlanInvalidError listing every error (and
    the warnings found besides, each at its line or cell) if its content is not a valid plan.
    """
    if path.suffix.lower() in WORKBOOK_SUFFIXES:
        # The workbook reader loads openpyxl on use; importing it here keeps the face light.
        from collector.plan.workbook import load_plan_workbook

        return load_plan_workbook(path)
    return load_plan_yaml(path)
