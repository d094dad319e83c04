"""The plan model's optional keys leave a plan's stored content as it was when they are unset."""

from __future__ import annotations

import json
from pathlib import Path

from collector.plan import load_plan, plan_content

CASES = Path(__file__).parents[1] / "plan_cases"
EXAMPLE = Path(__file__).parents[3] / "deploy" / "examples" / "plan.yaml"


def test_without_the_equipment_count_the_content_has_no_such_key() -> None:
    """A plan loaded before production_equipment_total existed keeps its content, so its
    registry digest is the same and reloading it is no new version."""
    content = plan_content(load_plan(CASES / "valid_minimal" / "plan.yaml").plan)
    assert "production_equipment_total" not in content


def test_the_equipment_count_is_stored_where_given() -> None:
    data = json.loads(plan_content(load_plan(EXAMPLE).plan))
    counts = {
        e["id"]: e.get("production_equipment_total")
        for p in data["platforms"]
        for e in p["enterprises"]
    }
    assert counts["ent-01"] == 4 and counts["ent-02"] == 2 and counts["ent-03"] is None
