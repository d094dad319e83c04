"""The plan as a workbook (``.xlsx``): the template, a plan written into it, a workbook read.

A second reader and a writer of the one plan model (docs/plan-workbook.md): the sheets and
columns (:mod:`.layout`), the file checked before openpyxl opens it (:mod:`.archive`), a cell's
value as the model takes it (:mod:`.cells`), the sheets read (:mod:`.read`) into what was
found (:mod:`.sheetdata`) and assembled into the plan's data with each value's cell
(:mod:`.assemble`), the model and rules applied with errors at sheet, row and column
(:mod:`.load`), and the writer (:mod:`.write`). openpyxl is imported only when a workbook is
read or written.
"""

from collector.plan.workbook.archive import (
    MAX_UNCOMPRESSED_BYTES,
    MAX_WORKBOOK_BYTES,
    WorkbookRefused,
)
from collector.plan.workbook.layout import INSTRUCTIONS, SHEETS
from collector.plan.workbook.load import load_plan_workbook
from collector.plan.workbook.write import plan_workbook_bytes

__all__ = [
    "INSTRUCTIONS",
    "MAX_UNCOMPRESSED_BYTES",
    "MAX_WORKBOOK_BYTES",
    "SHEETS",
    "WorkbookRefused",
    "load_plan_workbook",
    "plan_workbook_bytes",
]
