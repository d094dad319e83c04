"""Reading a province's plan as a workbook against reading it as YAML (docs/plan-workbook.md).

The plan: the largest batch the programme allows (5 sub-industries, 3 platforms each) with
30 enterprises per platform, 3 targets and one agent each: 450 enterprises, 1,350 target rows.
It is written once as YAML (``plan_yaml``) and once as a workbook (``plan_workbook_bytes``),
then each is loaded ``--runs`` times with ``collector.plan.load_plan`` (schema and programme
rules included). Printed: file sizes, median load times, and the time to refuse a zip bomb
(a 60-KB archive declaring 60 MB) before openpyxl opens it.

ratio = median workbook load time / median YAML load time (the workbook's extra cost).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import statistics
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from collector.plan import PlanFileError, load_plan, load_plan_yaml, plan_yaml
from collector.plan.workbook import MAX_UNCOMPRESSED_BYTES, plan_workbook_bytes
from contract import wire

EXAMPLE = Path(__file__).parents[1] / "deploy" / "examples" / "plan.yaml"
SUB_INDUSTRIES = 5
PLATFORMS_EACH = 3
ENTERPRISES_EACH = 30


def _big_plan() -> Any:
    example = load_plan_yaml(EXAMPLE).plan
    template = example.platforms[0].enterprises[0]
    sub_industries = [
        {"id": f"sub-{s}", "name": f"细分行业 {s}", "category": "auto_parts"}
        for s in range(SUB_INDUSTRIES)
    ]
    platforms = []
    for s in range(SUB_INDUSTRIES):
        for p in range(PLATFORMS_EACH):
            enterprises = []
            for e in range(ENTERPRISES_EACH):
                ident = f"s{s}-p{p}-e{e:02d}"
                key = wire.public_key_text(Ed25519PrivateKey.generate().public_key())
                agent = {
                    "id": f"{ident}-gw",
                    "public_key": key,
                    "devices": ["press-1", "meter-main"],
                }
                enterprise = template.model_dump() | {"id": ident, "agents": [agent]}
                enterprise["targets"]["energy_per_unit"]["meters"] = ["meter-main"]
                enterprises.append(enterprise)
            platforms.append(
                {"id": f"s{s}-p{p}", "name": f"平台 {s}-{p}", "sub_industry": f"sub-{s}",
                 "enterprises": enterprises}
            )  # fmt: skip
    data = example.model_dump() | {"sub_industries": sub_industries, "platforms": platforms}
    return type(example).model_validate(data)


def _median_load_s(path: Path, runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        load_plan(path)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def _zip_bomb() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", b"<x/>")
        archive.writestr("xl/workbook.xml", b"<x/>")
        archive.writestr("xl/worksheets/sheet1.xml", bytes(MAX_UNCOMPRESSED_BYTES + 10_000_000))
    return buffer.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    plan = _big_plan()
    enterprises = sum(len(p.enterprises) for p in plan.platforms)
    with tempfile.TemporaryDirectory() as folder:
        yaml_path, xlsx_path, bomb = (
            Path(folder, "p.yaml"),
            Path(folder, "p.xlsx"),
            Path(folder, "b.xlsx"),
        )
        yaml_path.write_text(plan_yaml(plan), encoding="utf-8")
        started = time.perf_counter()
        xlsx_path.write_bytes(plan_workbook_bytes(plan))
        write_s = time.perf_counter() - started
        yaml_s = _median_load_s(yaml_path, args.runs)
        xlsx_s = _median_load_s(xlsx_path, args.runs)
        bomb.write_bytes(_zip_bomb())
        started = time.perf_counter()
        with contextlib.suppress(PlanFileError):
            load_plan(bomb)
        bomb_s = time.perf_counter() - started
        print(f"plan: {len(plan.platforms)} platforms, {enterprises} enterprises")
        print(f"yaml: {yaml_path.stat().st_size:,} bytes, load median {yaml_s * 1000:.0f} ms")
        print(
            f"xlsx: {xlsx_path.stat().st_size:,} bytes, write {write_s * 1000:.0f} ms, "
            f"load median {xlsx_s * 1000:.0f} ms"
        )
        print(f"zip bomb: {bomb.stat().st_size:,} bytes refused in {bomb_s * 1000:.1f} ms")
    print(f"ratio={xlsx_s / yaml_s:.2f}")


if __name__ == "__main__":
    main()
