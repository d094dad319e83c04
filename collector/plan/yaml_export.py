"""A plan written back as YAML: the form ``plan load`` reads, with the keys in model order.

Used by ``plan export --format yaml`` and as the stored source text of a plan loaded from a
workbook (the registry keeps a plan's source text beside its canonical content). The text
reads back to the same plan content (:func:`collector.plan.plan_content`), which a test
checks; comments and anchors of a hand-written file are not kept.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import yaml

from collector.plan.model import Plan

__all__ = ["plan_yaml"]

_HEADER = (
    "# Implementation plan (实施方案), exported by retrofit-collector plan export.\n"
    "# Every key is described in docs/plan.md.\n"
)


class _NoAliases(yaml.SafeDumper):
    """PyYAML writes an anchor and aliases for any object met twice, dates included (one date
    object serves every enterprise of a shared period); the loader allows only a few aliases
    (contract.configfile), and an export is for people to read, so every value is written out."""

    def ignore_aliases(self, data: object) -> bool:
        return True


def plan_yaml(plan: Plan) -> str:
    """The plan as YAML text: money quoted, dates as YAML dates, no anchors or aliases."""
    data = _plain(plan.model_dump(mode="python"))
    body = yaml.dump(data, Dumper=_NoAliases, allow_unicode=True, sort_keys=False, width=100)
    return _HEADER + body


def _plain(value: object) -> object:
    # Money serialises as a string ("850000.00", see model.Money), so it stays quoted: never
    # a float. Tuples become lists, dates stay dates (YAML timestamps the loader reads).
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if isinstance(value, Decimal):
        return f"{value:.2f}"
    if isinstance(value, dt.datetime):
        raise TypeError(f"a plan holds dates, not times: {value!r}")
    return value
