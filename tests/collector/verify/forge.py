"""Synthetic enterprise bundles for the verifier's tests: an honest builder, the attacker's tools.

The honest builder does what the collector does, from the same pieces and nothing of the
verifier: agents' windows folded into day seals (``contract.daysums``, signed with
``contract.wire`` through tests/collector/seal_helpers.py's chain), the device-days the
evidence engine is fed as the sealed figures (``contract.daysums.row_figures``: the
collector's substitution, docs/evidence-method.md), the document from
``collector.evidence.enterprise_evidence``, the proof files from ``collector.proof`` and the
manifest and collector signature from ``collector.proof``. The plan is
tests/collector/plan_cases/valid_minimal with keys generated here.

The attacker holds everything a collector operator holds: the bundle, the collector's key (or a
new one), any agent key the tests hand over; :func:`remanifest` rewrites the manifest and the
signature after any edit, :func:`resign_seal` signs a seal's fields with any key.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import random
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from collector.evidence import (
    EnterpriseInputs,
    current_software,
    enterprise_evidence,
    platform_rollup,
)
from collector.evidence.document import (
    DeviceDayDoc,
    EnterpriseEvidence,
    PlanRefDoc,
    canonical_json,
)
from collector.plan import LoadedPlan, load_plan, stored_plan
from collector.proof import (
    MANIFEST_NAME,
    SIGNATURE_NAME,
    BundleAgentKey,
    BundleDayCheck,
    BundleDaySeal,
    Manifest,
    ManifestFile,
    agent_keys_bytes,
    bundle_day_seal,
    day_checks_bytes,
    day_seals_bytes,
    manifest_bytes,
    manifest_sha256,
    read_day_seals,
    sign_manifest,
    signature_bytes,
)
from contract import daysums, wire
from tests.collector.seal_helpers import SealChain

__all__ = [
    "ALL_ENTERPRISES",
    "ENTERPRISES",
    "PLATFORM",
    "RESEAL",
    "Forge",
    "copy_bundle",
    "edit_evidence",
    "forge_plant",
    "platform_remanifest",
    "remanifest",
    "resign_chains",
    "resign_seal",
    "rewrite_seals",
    "write_bundle",
    "write_platform_bundle",
]

CASES = Path(__file__).parents[1] / "plan_cases"
PLATFORM = "plat-a"
#: The two enterprises the forge seals and bundles by default; the plan's other eight stay as
#: they are. A platform bundle needs all ten (:data:`ALL_ENTERPRISES`).
ENTERPRISES = ("plat-a-e01", "plat-a-e02")
ALL_ENTERPRISES = tuple(f"plat-a-e{n:02d}" for n in range(1, 11))
DEVICES = ("press-1", "meter-1")
ZONE_NAME = "Asia/Shanghai"
ZONE = ZoneInfo(ZONE_NAME)
DIGEST = wire.config_digest(b"forge agent.yaml")
_QUALITY = wire.DataQuality(
    samples=720, missed_polls=0, bad_values=0, comm_loss_s=0.0, scheduled_comm_loss_s=0.0,
    counter_resets=0, meter_resets=0, clock_jumps=0,
)  # fmt: skip
_HALF_DAY_S = 43_200.0


@dataclass(frozen=True, slots=True)
class _Agent:
    """A registered agent as the engine reads it (collector.evidence.AgentRecord)."""

    agent_id: str
    public_key: str
    devices: tuple[str, ...]
    revoked: bool = False


@dataclass(slots=True)
class Forge:
    """The forged plant: keys, the plan file, each enterprise's seals (bytes) per agent."""

    folder: Path
    plan_path: Path
    plan: LoadedPlan
    collector_key: Ed25519PrivateKey
    #: agent id -> its private key.
    agent_keys: dict[str, Ed25519PrivateKey]
    #: enterprise id -> agent id of the plan.
    agents: dict[str, str]
    #: enterprise id -> its seals as received (bytes).
    seals: dict[str, list[bytes]] = field(default_factory=dict)

    def bundle(self, enterprise: str) -> Path:
        """The honest bundle of ``enterprise`` (written by :func:`forge_plant`)."""
        return self.folder / "bundles" / enterprise


def _key_text(key: Ed25519PrivateKey) -> str:
    return wire.public_key_text(key.public_key())


def write_plan(path: Path, keys: dict[str, str], *, without: Sequence[str] = ()) -> LoadedPlan:
    """valid_minimal with ``keys`` (agent id -> key text); ``without`` drops those agents."""
    text = (CASES / "valid_minimal" / "plan.yaml").read_text(encoding="utf-8")
    lines = []
    for line in text.splitlines():
        for agent, key in keys.items():
            if f"id: {agent}," in line:
                start = line.index('public_key: "') + len('public_key: "')
                end = line.index('"', start)
                line = line[:start] + key + line[end:]
                if agent in without:
                    line = line.replace(line[line.index(", agents: [") : -1], "")
        lines.append(line)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    loaded = load_plan(path)
    # As the collector: it runs the engine on the plan its registry gives back, whose targets
    # are in key order (energy_per_unit before oee, not the file's order).
    return dataclasses.replace(loaded, plan=stored_plan(loaded.plan))


def _window(device: str, start: datetime, rng: random.Random, planned_s: float) -> wire.KpiWindow:
    end = start + timedelta(seconds=_HALF_DAY_S)
    if device.startswith("meter"):
        return wire.KpiWindow(
            device=device, start=start, end=end, provenance="measured", config_digest=DIGEST,
            scheduled_s=0.0, planned_s=0.0, run_s=None, idle_s=None, down_s=None, off_s=None,
            planned_stop_s=None, total_count=None, good_count=None, reject_count=None,
            energy_kwh=round(rng.uniform(80.0, 160.0), 3), ideal_cycle_s=None, quality=_QUALITY,
        )  # fmt: skip
    run = round(planned_s * rng.uniform(0.6, 0.9), 1)
    total = int(run / 20.0 * 0.85)
    rejects = rng.randint(0, max(1, total // 40))
    return wire.KpiWindow(
        device=device, start=start, end=end, provenance="measured", config_digest=DIGEST,
        scheduled_s=planned_s, planned_s=planned_s, run_s=run, idle_s=planned_s - run,
        down_s=0.0, off_s=_HALF_DAY_S - planned_s, planned_stop_s=0.0, total_count=total,
        good_count=total - rejects, reject_count=rejects,
        energy_kwh=round(50.0 + 0.01 * total + rng.uniform(0, 2), 3), ideal_cycle_s=20.0,
        quality=_QUALITY,
    )  # fmt: skip


def day_windows(device: str, day: date, rng: random.Random) -> list[wire.KpiWindow]:
    """Two half-day windows of ``device`` on local ``day``: 6 h planned, then 10 h."""
    midnight = datetime.combine(day, time(), tzinfo=ZONE).astimezone(UTC)
    after = 1.1 if day >= date(2026, 5, 6) else 1.0  # the retrofit raises planned use a little
    return [
        _window(device, midnight, rng, 21_600.0),
        _window(device, midnight + timedelta(hours=12), rng, min(36_000.0 * after, _HALF_DAY_S)),
    ]


def _days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


#: A re-seal: once the day ``after`` is sealed, an import adds an hour to ``day`` of press-1.
RESEAL = (date(2026, 3, 4), date(2026, 3, 1))


def _imported_window(day: date) -> wire.KpiWindow:
    start = datetime.combine(day, time(1), tzinfo=ZONE).astimezone(UTC)
    return wire.KpiWindow(
        device="press-1", start=start, end=start + timedelta(hours=1), provenance="imported",
        config_digest=DIGEST, scheduled_s=0.0, planned_s=0.0, run_s=None, idle_s=None,
        down_s=None, off_s=None, planned_stop_s=None, total_count=3, good_count=3,
        reject_count=0, energy_kwh=None, ideal_cycle_s=None, quality=_QUALITY,
    )  # fmt: skip


def seal_enterprise(
    enterprise: str,
    agent: str,
    key: Ed25519PrivateKey,
    days: Sequence[date],
    seed: int,
    *,
    reseal: bool = False,
) -> list[bytes]:
    """Every device-day of ``enterprise``'s agent sealed, day by day, as its ledger would;
    with ``reseal``, :data:`RESEAL`'s day gets a version 2 with an imported part."""
    rng = random.Random(seed)
    chains = {device: SealChain(key, PLATFORM, enterprise, agent, device) for device in DEVICES}
    raws = []
    seq = 0
    kept: dict[date, list[tuple[int, wire.KpiWindow]]] = {}
    for day in days:
        for device in DEVICES:
            windows = []
            for window in day_windows(device, day, rng):
                seq += 1
                windows.append((seq, window))
            seq += 1
            raws.append(chains[device].seal(day, windows, seq=seq, tz=ZONE_NAME))
            if device == "press-1":
                kept[day] = windows
        if reseal and day == RESEAL[0]:
            seq += 1
            windows = [*kept[RESEAL[1]], (seq, _imported_window(RESEAL[1]))]
            seq += 1
            raws.append(chains["press-1"].seal(RESEAL[1], windows, seq=seq, tz=ZONE_NAME))
    return raws


@dataclass(frozen=True, slots=True)
class _Outcome:
    """A row's seal check as the collector's gather records it for an equal row
    (collector.evidence.inputs.SealCheckRecord)."""

    agent_id: str
    device: str
    provenance: str
    day: date
    seal_sha256: str
    seal_version: int
    outcome: str = "sealed_equal"
    differences: tuple[()] = ()


def sealed_rows(seals: Sequence[BundleDaySeal]) -> list[tuple[DeviceDayDoc, _Outcome]]:
    """The device-days the collector feeds the engine for these seals, each latest part's
    ``row_figures`` (its substitution of sealed figures), with the row's check: equal."""
    latest: dict[tuple[str, str, date], BundleDaySeal] = {}
    for line in seals:
        key = (line.seal.agent, line.seal.device, line.seal.day)
        if key not in latest or line.seal.version > latest[key].seal.version:
            latest[key] = line
    rows = []
    for line in latest.values():
        seal = line.seal
        for part in seal.parts:
            figures = daysums.row_figures(part)
            values = {name: figures[name] for name in DeviceDayDoc.model_fields if name in figures}
            identity = {"agent": seal.agent, "device": seal.device, "day": seal.day}
            row = DeviceDayDoc(provenance=part.provenance, **identity, **values)
            outcome = _Outcome(seal.agent, seal.device, part.provenance, seal.day, line.sha256,
                               seal.version)  # fmt: skip
            rows.append((row, outcome))
    return rows


def write_bundle(
    folder: Path,
    plan: LoadedPlan,
    enterprise_id: str,
    seals: Sequence[bytes],
    *,
    registry_agents: Sequence[tuple[str, str, tuple[str, ...]]],
    collector_key: Ed25519PrivateKey | None,
) -> None:
    """The honest enterprise bundle: evidence.json, the proof files, manifest, signature.

    ``registry_agents``: (agent id, key text, devices) as the collector's registry holds them.
    """
    platform = next(p for p in plan.plan.platforms if p.id == PLATFORM)
    enterprise = next(e for e in platform.enterprises if e.id == enterprise_id)
    lines = [bundle_day_seal(raw) for raw in seals]
    span = (enterprise.baseline.start, enterprise.reporting.end)
    checked = [(row, o) for row, o in sealed_rows(lines) if span[0] <= row.day <= span[1]]
    inputs = EnterpriseInputs(
        plan=plan.plan,
        plan_ref=PlanRefDoc(key=plan.plan.key, version=1, digest=plan.digest),
        platform=platform,
        enterprise=enterprise,
        rows=tuple(row for row, _ in checked),
        agents=tuple(_Agent(a, k, d) for a, k, d in registry_agents),
        seal_checks=tuple(outcome for _, outcome in checked),
    )
    document = enterprise_evidence(inputs, software=current_software(), seed=7)
    folder.mkdir(parents=True, exist_ok=True)
    added = datetime(2026, 1, 5, tzinfo=UTC)
    files = {
        "evidence.json": canonical_json(document),
        "day-seals.jsonl": day_seals_bytes(lines),
        "day-checks.json": day_checks_bytes(
            enterprise_id,
            [
                BundleDayCheck(
                    agent=o.agent_id,
                    device=o.device,
                    provenance=row.provenance,
                    day=o.day,
                    outcome="sealed_equal",
                    seal_sha256=o.seal_sha256,
                    differences=[],
                    root_checked=False,
                )
                for row, o in checked
            ],
        ),
        "agent-keys.json": agent_keys_bytes(
            enterprise_id,
            [
                BundleAgentKey(
                    agent=a, public_key=k, devices=sorted(d), added_at=added, revoked_at=None
                )
                for a, k, d in registry_agents
            ],
        ),
    }
    for name, content in files.items():
        (folder / name).write_bytes(content)
    remanifest(folder, collector_key)


def remanifest(folder: Path, key: Ed25519PrivateKey | None) -> None:
    """The attacker's (and the writer's) last step: a manifest of every file present, and a
    collector signature over it with ``key`` (none: the bundle is left unsigned)."""
    entries = []
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder).as_posix()
        if path.is_file() and relative not in (MANIFEST_NAME, SIGNATURE_NAME):
            content = path.read_bytes()
            entries.append(
                ManifestFile(
                    path=relative, sha256=hashlib.sha256(content).hexdigest(), size=len(content)
                )
            )
    manifest = Manifest(kind="enterprise", files=entries)
    (folder / MANIFEST_NAME).write_bytes(manifest_bytes(manifest))
    (folder / SIGNATURE_NAME).unlink(missing_ok=True)
    if key is None:
        return
    document = json.loads((folder / "evidence.json").read_bytes())
    signature = sign_manifest(
        manifest_sha256(manifest),
        kind="enterprise",
        enterprise=document["enterprise"]["id"],
        plan_digest=document["plan"]["digest"],
        key=key,
    )
    (folder / SIGNATURE_NAME).write_bytes(signature_bytes(signature))


def edit_evidence(folder: Path, change: Callable[[dict[str, Any]], None]) -> None:
    """Edit ``evidence.json``'s tree and write it back in its canonical form (nothing else)."""
    path = folder / "evidence.json"
    tree = json.loads(path.read_bytes())
    change(tree)
    text = json.dumps(tree, sort_keys=True, ensure_ascii=False, indent=1, allow_nan=False)
    path.write_bytes((text + "\n").encode("utf-8"))


def rewrite_seals(
    folder: Path, change: Callable[[list[BundleDaySeal]], list[BundleDaySeal]]
) -> None:
    """Rewrite ``day-seals.jsonl`` as the attacker's ``change`` makes it (sorted, valid lines)."""
    path = folder / "day-seals.jsonl"
    path.write_bytes(day_seals_bytes(change(read_day_seals(path.read_bytes()))))


def resign_seal(seal: wire.DaySeal, key: Ed25519PrivateKey, **changes: Any) -> bytes:
    """``seal``'s fields (with ``changes``) signed with ``key``: the published bytes."""
    fields = seal.model_dump(exclude={"sig", "kind", "v"})
    fields.update(changes)
    fields["parts"] = [wire.DaySealPart.model_validate(part) for part in fields["parts"]]
    return wire.encode(wire.seal_day_seal(**fields, key=key))


def resign_chains(lines: Sequence[BundleDaySeal], key: Ed25519PrivateKey) -> list[BundleDaySeal]:
    """Every seal of ``lines`` signed again with ``key``, each device's chain re-linked (``prev``
    and ``supersedes`` the new hashes), so that only the key differs from the honest chains."""
    resigned: dict[str, str] = {}
    out = []
    for line in sorted(lines, key=lambda x: (x.seal.agent, x.seal.device, x.seal.index)):
        prev = resigned.get(line.seal.prev or "")
        supersedes = resigned.get(line.seal.supersedes or "")
        new = bundle_day_seal(resign_seal(line.seal, key, prev=prev, supersedes=supersedes))
        resigned[line.sha256] = new.sha256
        out.append(new)
    return out


def forge_plant(
    folder: Path,
    *,
    unlisted: Sequence[str] = (),
    reseal: bool = False,
    enterprises: Sequence[str] = ENTERPRISES,
) -> Forge:
    """Two enterprises of valid_minimal sealed over their evidence span, and their honest
    bundles in ``folder/bundles/<enterprise>``; ``unlisted`` enterprises' agents are left out
    of the plan (whose digest the bundles then carry): their seals are not anchored. With
    ``reseal`` the first enterprise's press-1 has a day sealed twice (:data:`RESEAL`)."""
    collector_key = Ed25519PrivateKey.generate()
    agents = {enterprise: f"{enterprise}-gw" for enterprise in enterprises}
    agent_keys = {agent: Ed25519PrivateKey.generate() for agent in agents.values()}
    folder.mkdir(parents=True, exist_ok=True)
    plan_path = folder / "plan.yaml"
    plan = write_plan(
        plan_path,
        {agent: _key_text(key) for agent, key in agent_keys.items()},
        without=[agents[enterprise] for enterprise in unlisted],
    )
    forge = Forge(folder, plan_path, plan, collector_key, agent_keys, agents)
    baseline = date(2026, 2, 2)
    days = _days(baseline - timedelta(days=3), date(2026, 8, 30))
    for number, enterprise in enumerate(enterprises):
        agent = agents[enterprise]
        forge.seals[enterprise] = seal_enterprise(
            enterprise, agent, agent_keys[agent], days, seed=number, reseal=reseal and number == 0
        )
        write_bundle(
            forge.bundle(enterprise), plan, enterprise, forge.seals[enterprise],
            registry_agents=[(agent, _key_text(agent_keys[agent]), DEVICES)],
            collector_key=collector_key,
        )  # fmt: skip
    return forge


def copy_bundle(forge: Forge, enterprise: str, to: Path) -> Path:
    """A copy of ``enterprise``'s honest bundle at ``to`` (tests tamper with copies)."""
    shutil.copytree(forge.bundle(enterprise), to)
    return to


def platform_remanifest(folder: Path, key: Ed25519PrivateKey | None) -> None:
    """A platform's manifest (``platform.json`` and each enterprise's ``manifest.json``) and
    its collector signature, as collector.bundle writes them."""
    names = ["platform.json", *sorted(p.parent.name + "/" + MANIFEST_NAME
                                      for p in folder.glob(f"*/{MANIFEST_NAME}"))]  # fmt: skip
    entries = []
    for relative in sorted(names):
        content = (folder / relative).read_bytes()
        entries.append(
            ManifestFile(
                path=relative, sha256=hashlib.sha256(content).hexdigest(), size=len(content)
            )
        )
    manifest = Manifest(kind="platform", files=entries)
    (folder / MANIFEST_NAME).write_bytes(manifest_bytes(manifest))
    (folder / SIGNATURE_NAME).unlink(missing_ok=True)
    if key is None:
        return
    rollup = json.loads((folder / "platform.json").read_bytes())
    signature = sign_manifest(
        manifest_sha256(manifest),
        kind="platform",
        enterprise=None,
        plan_digest=rollup["plan"]["digest"],
        key=key,
    )
    (folder / SIGNATURE_NAME).write_bytes(signature_bytes(signature))


def write_platform_bundle(forge: Forge, folder: Path) -> Path:
    """The honest platform bundle of every forged enterprise (all of the platform's)."""
    documents = []
    for enterprise in forge.seals:
        shutil.copytree(forge.bundle(enterprise), folder / enterprise)
        raw = (folder / enterprise / "evidence.json").read_bytes()
        documents.append(EnterpriseEvidence.model_validate_json(raw))
    plan = forge.plan
    platform = next(p for p in plan.plan.platforms if p.id == PLATFORM)
    rollup = platform_rollup(
        plan.plan,
        PlanRefDoc(key=plan.plan.key, version=1, digest=plan.digest),
        platform,
        documents,
        software=current_software(),
    )
    (folder / "platform.json").write_bytes(canonical_json(rollup))
    platform_remanifest(folder, forge.collector_key)
    return folder
