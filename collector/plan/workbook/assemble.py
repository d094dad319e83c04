"""The rows read from the workbook assembled into the plan's nested data, as YAML gives it.

A child row names its parent by id (an enterprise its platform, a target, rectification or
agent its enterprise); every value's key path is recorded with its cell, so that the model's
and the rules' findings can be placed back in the sheet.
"""

from __future__ import annotations

from typing import Any

from collector.plan.workbook.layout import DATA_ROW, SHEETS
from collector.plan.workbook.sheetdata import CellRef, Row, SheetData
from contract.configfile.yamlload import KeyPath

__all__ = ["assemble"]


def assemble(found: SheetData, rows: dict[str, list[Row]]) -> None:
    """Fill ``found.data`` from the rows of each sheet (by the sheet's English name)."""
    _Assembler(found, rows).assemble()


class _Assembler:
    """Rows to the plan's nested data, each value's key path mapped to its cell."""

    def __init__(self, found: SheetData, rows: dict[str, list[Row]]) -> None:
        self.found = found
        self.rows = rows
        self.data = found.data
        #: Enterprise id -> its key path and data, one per row holding that id.
        self.enterprises: dict[str, list[tuple[KeyPath, dict[str, Any], int]]] = {}
        #: Ids held by more than one row of their sheet.
        self.duplicated: set[str] = set()

    def put(self, row: Row, target: dict[str, Any], base: KeyPath, keys: dict[str, str]) -> None:
        """Copy the row's ``column -> field`` values into ``target`` at ``base``."""
        for column_key, field_path in keys.items():
            path: KeyPath = (*base, *field_path.split("."))
            ref = row.refs.get(column_key, CellRef(row.sheet.title, row.number, "A", column_key))
            self.found.cell(ref, path, *([path[:-1]] if "." in field_path else []))
            if column_key in row.values:
                _set(target, field_path.split("."), row.values[column_key])

    def row_cell(self, row: Row, *paths: KeyPath) -> None:
        """Record the row's first column for whole-row paths (an item, its lists)."""
        key = row.sheet.columns[0].key if row.sheet.parent is None else row.sheet.columns[1].key
        ref = row.refs.get(key, CellRef(row.sheet.title, row.number, "A", key))
        self.found.cell(ref, *paths)

    def assemble(self) -> None:
        self._plan()
        self._sub_industries()
        self._platforms()
        self._children("Targets", self._target)
        self._children("Rectifications", self._rectification)
        self._children("Agents", self._agent)

    def _plan(self) -> None:
        plan_rows = self.rows["Plan"]
        for extra in plan_rows[1:]:
            self.found.problem(
                CellRef(extra.sheet.title, extra.number, "A", ""),
                f"a second plan row: the plan sheet holds one row (row {DATA_ROW})",
            )
        if not plan_rows:
            self.found.cell(CellRef(SHEETS[0].title, DATA_ROW, "A", ""), ())
            return
        row = plan_rows[0]
        self.row_cell(row, ())
        keys = {"province_code": "province.code", "province_name": "province.name"}
        self.put(row, self.data, (), {**keys, "batch_year": "batch_year"})
        if "implementation_start" in row.values or "implementation_end" in row.values:
            period = {
                "implementation_start": "implementation_period.start",
                "implementation_end": "implementation_period.end",
            }
            self.put(row, self.data, (), period)

    def _list_anchor(self, name: str, key: str) -> None:
        sheet = next(s for s in SHEETS if s.name_en == name)
        self.found.cell(CellRef(sheet.title, DATA_ROW, "A", ""), (key,))

    def _sub_industries(self) -> None:
        self._list_anchor("SubIndustries", "sub_industries")
        items: list[Any] = []
        seen: dict[str, list[Any]] = {}
        for index, row in enumerate(self.rows["SubIndustries"]):
            self._first_holder(seen, row, (index, row.number))
            item: dict[str, Any] = {}
            self.row_cell(row, ("sub_industries", index))
            self.put(
                row, item, ("sub_industries", index), {k: k for k in ("id", "name", "category")}
            )
            items.append(item)
        self.data["sub_industries"] = items

    def _platforms(self) -> None:
        self._list_anchor("Platforms", "platforms")
        platforms: dict[str, list[tuple[int, dict[str, Any], int]]] = {}
        items: list[Any] = []
        for index, row in enumerate(self.rows["Platforms"]):
            base: KeyPath = ("platforms", index)
            item: dict[str, Any] = {"enterprises": []}
            self.row_cell(row, base, (*base, "enterprises"))
            self.put(row, item, base, {k: k for k in ("id", "name", "sub_industry")})
            self._first_holder(platforms, row, (index, item, row.number))
            items.append(item)
        self.data["platforms"] = items
        for row in self.rows["Enterprises"]:
            parent = self._parent(row, "platform", platforms)
            if parent is not None:
                self._enterprise(row, parent[0], parent[1])

    def _parent(self, row: Row, key: str, known: dict[str, list[Any]]) -> Any:
        """The one parent row named by the row's ``key`` cell, or None (a problem recorded)."""
        value = row.values.get(key)
        if value is None:  # blank, or already a problem at its cell
            if key in row.blanks:
                self.found.problem(row.refs[key], f"missing: the id of the {key} of this row")
            return None
        if str(value) not in known:
            sheet = "平台 Platforms" if key == "platform" else "企业 Enterprises"
            self.found.problem(
                row.refs[key],
                f"got {str(value)!r}, expected the id of a {key} on sheet {sheet!r}",
            )
            return None
        # With one id on two rows the first holds the children: the second row's id cell
        # already says so (_first_holder).
        return known[str(value)][0]

    def _enterprise(self, row: Row, platform_index: int, platform: dict[str, Any]) -> None:
        index = len(platform["enterprises"])
        base: KeyPath = ("platforms", platform_index, "enterprises", index)
        item: dict[str, Any] = {"targets": {}}
        self.row_cell(row, base, (*base, "targets"), (*base, "agents"), (*base, "rectifications"))
        fields = {k: k for k in ("id", "name", "industry", "retrofit_cost_cny", "solution")}
        fields |= {"timezone": "timezone", "go_live": "go_live"}
        fields |= {"production_equipment_total": "production_equipment_total"}
        fields |= {
            f"{p}_{e}": f"{p}.{e}" for p in ("baseline", "reporting") for e in ("start", "end")
        }
        self.put(row, item, base, fields)
        platform["enterprises"].append(item)
        self._first_holder(self.enterprises, row, (base, item, row.number))

    def _first_holder(self, known: dict[str, list[Any]], row: Row, holder: tuple[Any, ...]) -> None:
        """Record a parent row by id; a second row with the same id is a problem at its id."""
        if "id" not in row.values:
            return
        key = str(row.values["id"])
        holders = known.setdefault(key, [])
        if holders:
            kind = {"Platforms": "platform", "Enterprises": "enterprise"}.get(
                row.sheet.name_en, "sub-industry"
            )
            self.duplicated.add(key)
            self.found.problem(
                row.refs["id"],
                f"{kind} id {key!r} is also on row {holders[0][-1]} of this sheet: ids are "
                f"unique across the plan, and the rows of other sheets that name {key!r} are "
                f"read as row {holders[0][-1]}'s",
            )
        holders.append(holder)

    def _children(self, name: str, add: Any) -> None:
        for row in self.rows[name]:
            parent = self._parent(row, "enterprise", self.enterprises)
            if parent is not None:
                add(row, parent[0], parent[1])

    def _target(self, row: Row, base: KeyPath, enterprise: dict[str, Any]) -> None:
        kpi = row.values.get("kpi")
        if kpi is None:
            if "kpi" in row.blanks:
                self.found.problem(row.refs["kpi"], "missing: the KPI this target is for")
            return
        targets: dict[str, Any] = enterprise["targets"]
        if str(kpi) in targets:
            if str(row.values.get("enterprise")) not in self.duplicated:  # said at its id
                self.found.problem(row.refs["kpi"], f"a second target for {kpi} of this enterprise")
            return
        path: KeyPath = (*base, "targets", str(kpi))
        self.found.cell(row.refs["kpi"], path)
        item: dict[str, Any] = {}
        columns = ("direction", "size", "unit", "required", "boundary", "meters", "drivers")
        self.put(row, item, path, {key: key for key in columns})
        targets[str(kpi)] = item

    def _rectification(self, row: Row, base: KeyPath, enterprise: dict[str, Any]) -> None:
        items = enterprise.setdefault("rectifications", [])
        path: KeyPath = (*base, "rectifications", len(items))
        item: dict[str, Any] = {}
        self.row_cell(row, path)
        fields = {
            "date": "date",
            "reporting_start": "reporting.start",
            "reporting_end": "reporting.end",
        }
        self.put(row, item, path, fields)
        items.append(item)

    def _agent(self, row: Row, base: KeyPath, enterprise: dict[str, Any]) -> None:
        items = enterprise.setdefault("agents", [])
        path: KeyPath = (*base, "agents", len(items))
        item: dict[str, Any] = {}
        self.row_cell(row, path)
        self.put(row, item, path, {k: k for k in ("id", "public_key", "devices")})
        items.append(item)


def _set(target: dict[str, Any], keys: list[str], value: object) -> None:
    for key in keys[:-1]:
        target = target.setdefault(key, {})
    target[keys[-1]] = value
