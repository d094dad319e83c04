"""The plan model's optional keys leave a plan's stored content as it was when they are unset."""

from __future__ import annotations

import json
from pathlib import Path

from collector.plan import Plan, load_plan, plan_content

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


def test_targets_keep_one_order_from_the_file_and_from_the_registry(tmp_path: Path) -> None:
    """The evidence lists an enterprise's KPIs in its targets' order, and a verifier recomputes
    it from the reviewer's plan file while the collector read the registry's stored content
    (sorted keys): both must give the same order, whatever order the file writes them in.
    Found by tests/pipeline: every bundle of a plan writing ``oee`` before ``defect_rate``
    failed verification (figure_differs on every KPI field)."""
    text = (CASES / "valid_minimal" / "plan.yaml").read_text(encoding="utf-8")
    assert "  oee: {direction: increase" in text
    reordered = text.replace(
        "  oee: {direction: increase, size: 5, unit: pp}\n",
        "  oee: {direction: increase, size: 5, unit: pp}\n"
        '  defect_rate: {direction: decrease, size: 20, unit: "%"}\n',
    )
    path = tmp_path / "plan.yaml"
    path.write_text(reordered, encoding="utf-8")
    from_file = load_plan(path).plan
    stored = Plan.model_validate_json(plan_content(from_file))
    for loaded, reread in zip(
        from_file.platforms[0].enterprises, stored.platforms[0].enterprises, strict=True
    ):
        assert list(loaded.targets) == list(reread.targets) == sorted(loaded.targets)
