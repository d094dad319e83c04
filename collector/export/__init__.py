"""Exports a reviewer can file: tables as ``.xlsx`` workbooks and CSV, never a formula.

A :class:`Table` (:mod:`.table`) holds the figures of an evidence document or a web view;
:func:`workbook_bytes` (:mod:`.xlsx`) writes tables as a workbook with number formats,
:func:`csv_bytes` (:mod:`.delimited`) one table as CSV; :func:`neutralise`
(:mod:`.injection`) keeps text from running as a formula; :mod:`.documents` builds the tables
of a bundle's ``evidence.json``, ``platform.json`` and ``province.json``, :mod:`.digital` those
of the digital-level section. See docs/exports.md.

Pure: no database, no network. openpyxl is imported only when a workbook is written.
"""

from collector.export.delimited import csv_bytes, yuan_text
from collector.export.digital import digital_level_tables
from collector.export.documents import (
    ENTERPRISE_COLUMNS,
    KPI_COLUMNS,
    PLATFORM_COLUMNS,
    DocumentRefused,
    document_table,
    document_tables,
    enterprise_tables,
    kpi_table,
    platform_table,
    province_table,
)
from collector.export.injection import FORMULA_STARTS, neutralise
from collector.export.table import CellKind, Column, Table, Value
from collector.export.xlsx import NUMBER_FORMATS, workbook_bytes

__all__ = [
    "ENTERPRISE_COLUMNS",
    "FORMULA_STARTS",
    "KPI_COLUMNS",
    "NUMBER_FORMATS",
    "PLATFORM_COLUMNS",
    "CellKind",
    "Column",
    "DocumentRefused",
    "Table",
    "Value",
    "csv_bytes",
    "digital_level_tables",
    "document_table",
    "document_tables",
    "enterprise_tables",
    "kpi_table",
    "neutralise",
    "platform_table",
    "province_table",
    "workbook_bytes",
    "yuan_text",
]
