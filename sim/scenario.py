"""The demo's pilot programme as data: enterprises, their machines, the plan and the agents.

One service platform retrofits a dozen pilot enterprises. Each enterprise has three machines
(a press, a weld and a CNC) on a two-shift calendar, and a role that says what its retrofit does
to them, so the verdicts the evidence engine reaches can be checked against it:

- ``improves``: from go-live the machines fail a third as often and are repaired twice as
  fast, cycle a little faster (never below the ideal cycle the agent is configured with),
  reject half as many parts and use less energy per part: past every target of the plan.
- ``unchanged``: the retrofit changes nothing on the shop floor: its targets are not met.
- ``goes_offline``: improves like the first, but its gateway is switched off a few days into
  the reporting period and never comes back: too few usable days for a verdict.

The ``unchanged`` enterprise's installer also made a slip a reviewer must see: its press's
ideal cycle in the agent's configuration is longer than the machine's real cycle, so the press
beats its "ideal" every day and the evidence engine flags ``count_faster_than_ideal`` (a flag
goes to the reviewer; it changes no verdict).

How the machines are read (``measured_by``): most enterprises' machines have controllers, two on
Modbus TCP and one on OPC UA, except ``ent-01``'s weld, whose controller is a Siemens S7 (its own
data block). ``ent-03`` (``RETROFIT_ENTERPRISE``) has no controllers at all: each machine is
seen only through a power meter on its feed and a DI module on its run lamp and part switch
(``protocol: retrofit``, ``sim.retrofit``), and its agent infers the state from them (the
device's ``state:`` block, ``sim.agent_config``). ``ent-03`` is the ``goes_offline`` enterprise
of a quick run (three enterprises) and one that ``improves`` in a full run (twelve), so a quick
run crosses S7 and inference, and a full run shows an inferred enterprise passing.

Everything here is pure: it builds the plant file (docs/simulator.md), the implementation plan
(docs/plan.md) and each enterprise's agent configuration (docs/configuration.md) as documents;
``deploy/local/demo.py`` writes them and starts the real processes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal
from zoneinfo import ZoneInfo

from sim.agent_config import agent_devices
from sim.plant import PlantConfig

__all__ = [
    "GOES_OFFLINE_AFTER_DAYS",
    "MISCONFIGURED_IDEAL_CYCLE_FACTOR",
    "RETROFIT_ENTERPRISE",
    "S7_MACHINE",
    "TIMEZONE",
    "AgentSettings",
    "DemoEnterprise",
    "MeasuredBy",
    "Role",
    "Timeline",
    "agent_document",
    "demo_enterprises",
    "plan_document",
    "plant_document",
    "poll_offset_s",
    "timeline",
]

Role = Literal["improves", "unchanged", "goes_offline"]
#: What an enterprise's machines are read through: their controllers, or a retrofit kit.
MeasuredBy = Literal["controller", "retrofit"]

TIMEZONE = "Asia/Shanghai"
#: Days of the reporting period the ``goes_offline`` enterprise's gateway still reports: fewer
#: than the 14 usable days a verdict needs (collector/plan/rules.py, MIN_DATA_DAYS).
GOES_OFFLINE_AFTER_DAYS = 6
#: The ``unchanged`` enterprise's press: ideal cycle in its agent's configuration over the real
#: cycle (the installer took it from the wrong sheet). Its performance is then about 1.15, past
#: the evidence engine's limit of 1.05 (collector/evidence/plausibility/production.py).
MISCONFIGURED_IDEAL_CYCLE_FACTOR = 1.15
#: The enterprise whose machines have no controller (a power meter and a DI module each).
RETROFIT_ENTERPRISE = "ent-03"
#: The machine read from a Siemens S7 PLC's data block.
S7_MACHINE = "ent-01-weld"
PLATFORM_ID = "plat-a"
SUB_INDUSTRY_ID = "auto-parts"

#: (id, name, industry, retrofit cost in yuan): costs on both sides of the 1,000,000-yuan point
#: where 30 % reaches the 300,000-yuan cap per enterprise.
_COMPANIES: tuple[tuple[str, str, str, str], ...] = (
    ("ent-01", "宁波精锻汽配有限公司", "汽车零部件及配件制造 C3670", "850000.00"),
    ("ent-02", "慈溪华宇轴承有限公司", "滚动轴承制造 C3451", "620000.00"),
    ("ent-03", "余姚恒力齿轮有限公司", "齿轮及齿轮减、变速箱制造 C3453", "1200000.00"),
    ("ent-04", "宁海东方冲压件有限公司", "汽车零部件及配件制造 C3670", "480000.00"),
    ("ent-05", "象山金海紧固件有限公司", "紧固件制造 C3482", "390000.00"),
    ("ent-06", "奉化天成铸造有限公司", "黑色金属铸造 C3391", "960000.00"),
    ("ent-07", "北仑科达制动器有限公司", "汽车零部件及配件制造 C3670", "730000.00"),
    ("ent-08", "镇海鸿运密封件有限公司", "密封用填料及类似品制造 C3484", "555000.50"),
    ("ent-09", "鄞州博远电机配件有限公司", "微特电机及组件制造 C3813", "410000.00"),
    ("ent-10", "江北立信模具有限公司", "模具制造 C3525", "680000.00"),
    ("ent-11", "海曙通达汽车电子有限公司", "汽车零部件及配件制造 C3670", "1450000.00"),
    ("ent-12", "鄞州宏图液压件有限公司", "液压动力机械及元件制造 C3444", "520000.00"),
)

#: What the retrofit changes from go-live (sim scenario factors, docs/simulator.md). The cycle
#: factor stays above the agent's ideal cycle (0.9 of the baseline cycle, sim.agent_config), so
#: a faster machine never looks faster than physically possible.
_IMPROVEMENT = {
    "mtbf_factor": 3.0,
    "mttr_factor": 0.5,
    "cycle_factor": 0.92,
    "reject_factor": 0.5,
    "energy_per_part_factor": 0.8,
}
_NO_CHANGE = {"mtbf_factor": 1.0}

_WORKDAYS = ["mon", "tue", "wed", "thu", "fri"]


@dataclass(frozen=True, slots=True)
class Timeline:
    """The plan's periods and when the plant clock starts and stops (local dates and times)."""

    plant_start: dt.datetime
    baseline: tuple[dt.date, dt.date]
    go_live: dt.date
    reporting: tuple[dt.date, dt.date]
    plant_end: dt.datetime

    @property
    def offline_at(self) -> dt.datetime:
        """When the ``goes_offline`` enterprise's gateway is switched off (local time)."""
        first = self.reporting[0] + dt.timedelta(days=GOES_OFFLINE_AFTER_DAYS)
        return dt.datetime.combine(first, dt.time(0, 0), ZoneInfo(TIMEZONE))

    @property
    def plant_s(self) -> float:
        """Plant seconds from start to end."""
        return (self.plant_end - self.plant_start).total_seconds()


def timeline(period_days: int, first_day: dt.date = dt.date(2026, 3, 2)) -> Timeline:
    """Baseline from ``first_day``, go-live the day after it ends, reporting from the next day.

    The plant clock starts at 14:00 two days before (after the week's last shift, when the
    machines stand still: the agents have a plant day and more to connect) and stops 30 minutes
    after the reporting period's last day.
    """
    zone = ZoneInfo(TIMEZONE)
    baseline_end = first_day + dt.timedelta(days=period_days - 1)
    go_live = baseline_end + dt.timedelta(days=1)
    reporting_start = go_live + dt.timedelta(days=1)
    reporting_end = reporting_start + dt.timedelta(days=period_days - 1)
    start = dt.datetime.combine(first_day - dt.timedelta(days=2), dt.time(14, 0), zone)
    end = dt.datetime.combine(reporting_end + dt.timedelta(days=1), dt.time(0, 30), zone)
    return Timeline(
        start, (first_day, baseline_end), go_live, (reporting_start, reporting_end), end
    )


@dataclass(frozen=True, slots=True)
class DemoEnterprise:
    """One pilot enterprise of the demo: the plan's record, its role and its machines."""

    id: str
    name: str
    industry: str
    retrofit_cost_cny: str
    role: Role
    index: int
    measured_by: MeasuredBy = "controller"

    @property
    def agent_id(self) -> str:
        """Its gateway's agent id."""
        return f"{self.id}-gw1"

    @property
    def machine_ids(self) -> list[str]:
        """Its machines' ids (also the agent's device ids)."""
        return [f"{self.id}-{kind}" for kind in ("press", "weld", "cnc")]

    @property
    def misconfigured_device(self) -> str | None:
        """The device whose ideal cycle its agent has wrong (the ``unchanged`` one's press)."""
        return self.machine_ids[0] if self.role == "unchanged" else None


def demo_enterprises(count: int) -> list[DemoEnterprise]:
    """The first ``count`` enterprises: the second is ``unchanged``, the last ``goes_offline``.

    With 12: ten improve (the platform meets the minimum of 10), one does not, one has too
    little data. With 3: one of each. Raises ValueError for fewer than 3 or more than 12.
    """
    if not 3 <= count <= len(_COMPANIES):
        raise ValueError(f"got {count} enterprises, expected 3..{len(_COMPANIES)}")
    roles: list[Role] = ["improves"] * count
    roles[1], roles[-1] = "unchanged", "goes_offline"
    return [
        DemoEnterprise(ident, name, industry, cost, role, index, _measured_by(ident))
        for index, ((ident, name, industry, cost), role) in enumerate(
            zip(_COMPANIES[:count], roles, strict=True), start=1
        )
    ]


def _measured_by(ident: str) -> MeasuredBy:
    return "retrofit" if ident == RETROFIT_ENTERPRISE else "controller"


def _calendar() -> dict[str, Any]:
    # Planned stops outside shifts (the line's MES says "not scheduled"): polled every few
    # plant minutes, a shift's edges then cost the agent's state times nothing on average
    # (docs/demo.md, "Accuracy").
    return {
        "timezone": TIMEZONE,
        "outside_shifts": "planned_stop",
        "holidays": ["2026-04-05"],  # 清明节 (Qingming)
        "shifts": [
            {
                "name": "early",
                "start": "06:00",
                "end": "14:00",
                "days": [*_WORKDAYS, "sat"],
                "breaks": [{"start": "10:00", "end": "10:30"}],
            },
            {
                "name": "late",
                "start": "14:00",
                "end": "22:00",
                "days": _WORKDAYS,
                "breaks": [{"start": "18:00", "end": "18:30"}],
            },
        ],
    }


def _vary(value: float, enterprise: DemoEnterprise, step: float) -> float:
    # Enterprises differ a little (±2 steps), deterministically, so no two are copies.
    return round(value * (1 + step * ((enterprise.index * 7) % 5 - 2)), 3)


#: The retrofit kit on each machine of the retrofit enterprise (``sim.retrofit``): a meter's
#: usual noise, a motor's inrush of 6 x for 3 s at power-on, and 5 minutes of warm-up (idle)
#: before the machine runs, as hydraulics and spindles do.
_RETROFIT_KIT = {"noise_pct": 2.0, "noise_floor_kw": 0.05, "inrush_factor": 6.0, "inrush_s": 3.0,
                 "warmup_s": 300.0}  # fmt: skip


def _read_through(machine: dict[str, Any], enterprise: DemoEnterprise, slot: int) -> dict[str, Any]:
    """The machine as its enterprise reads it: its controller, an S7 PLC, or a retrofit kit.

    A retrofit machine's meter and DI module take units ``10 x index + slot`` and ``+ 3``
    (``slot`` 1..3), clear of the controllers' units ``10 x index + 1..2``.
    """
    if machine["id"] == S7_MACHINE:
        machine = {k: v for k, v in machine.items() if k not in ("unit_id", "word_order")}
        return {**machine, "protocol": "s7", "s7_db": 10 * enterprise.index + slot}
    if enterprise.measured_by == "controller":
        return machine
    unit = 10 * enterprise.index + slot
    kit = {"meter_unit_id": unit, "di_unit_id": unit + 3, **_RETROFIT_KIT}
    machine = {k: v for k, v in machine.items() if k != "unit_id"}
    return {**machine, "protocol": "retrofit", "retrofit": kit}


def _machines(enterprise: DemoEnterprise, timeline: Timeline) -> list[dict[str, Any]]:
    return [
        _read_through(machine, enterprise, slot)
        for slot, machine in enumerate(_controller_machines(enterprise, timeline), start=1)
    ]


def _controller_machines(enterprise: DemoEnterprise, timeline: Timeline) -> list[dict[str, Any]]:
    factors = _NO_CHANGE if enterprise.role == "unchanged" else _IMPROVEMENT
    go_live = dt.datetime.combine(timeline.go_live, dt.time(0, 0), ZoneInfo(TIMEZONE))
    scenario = {"go_live": go_live.isoformat(), **factors}
    press, weld, cnc = enterprise.machine_ids
    unit = 10 * enterprise.index
    common = {"calendar": _calendar(), "scenario": scenario}
    # Durations of real lines: failures every few hours of running, repairs of half an hour
    # and more, starved or blocked spells of ten minutes or so.
    return [
        {
            "id": press,
            "protocol": "modbus",
            "unit_id": unit + 1,
            "counter_bits": 16,
            "cycle_s": _vary(20.0, enterprise, 0.05),
            "reject_rate": 0.03,
            "mtbf_s": 4 * 3600,
            "mttr_s": 1800,
            "idle_every_s": 2 * 3600,
            "idle_mean_s": 600,
            "idle_kw": 4.0,
            "standby_kw": 0.5,
            "energy_per_part_kwh": 0.05,
            **common,
        },
        {
            "id": weld,
            "protocol": "modbus",
            "unit_id": unit + 2,
            "counter_bits": 32,
            "word_order": "little",
            "cycle_s": _vary(45.0, enterprise, 0.04),
            "reject_rate": 0.025,
            "mtbf_s": 6 * 3600,
            "mttr_s": 2400,
            "idle_every_s": 3 * 3600,
            "idle_mean_s": 900,
            "idle_kw": 3.0,
            "energy_per_part_kwh": 0.12,
            **common,
        },
        {
            "id": cnc,
            "protocol": "opcua",
            "counter_bits": 32,
            "cycle_s": _vary(90.0, enterprise, 0.03),
            "reject_rate": 0.015,
            "mtbf_s": 8 * 3600,
            "mttr_s": 2700,
            "idle_every_s": 4 * 3600,
            "idle_mean_s": 900,
            "idle_kw": 6.5,
            "energy_per_part_kwh": 0.4,
            **common,
        },
    ]


def plant_document(enterprises: Sequence[DemoEnterprise], timeline: Timeline) -> dict[str, Any]:
    """The plant file of every enterprise's machines, served by one simulator."""
    machines = [m for enterprise in enterprises for m in _machines(enterprise, timeline)]
    return {"plant": "demo-pilot-plants", "machines": machines}


def _targets(with_energy: bool) -> dict[str, Any]:
    targets: dict[str, Any] = {
        "oee": {"direction": "increase", "size": 5, "unit": "pp"},
        "defect_rate": {"direction": "decrease", "size": 20, "unit": "%"},
    }
    if with_energy:
        targets["energy_per_unit"] = {
            "direction": "decrease",
            "size": 8,
            "unit": "%",
            "required": False,
        }
    return targets


#: Production machines a simulated pilot has but does not network (a manual deburring bench),
#: so its 生产设备联网率 reads 3 of 4, not 100 % by construction (docs/demo.md).
UNNETWORKED_MACHINES = 1


def _equipment(enterprise: DemoEnterprise | None) -> dict[str, int]:
    """The plan's whole count of production equipment: for a simulated pilot its networked
    machines and the ones it does not network; unknown (left out) for a listed-only one."""
    if enterprise is None:
        return {}
    return {"production_equipment_total": len(enterprise.machine_ids) + UNNETWORKED_MACHINES}


def plan_document(
    enterprises: Sequence[DemoEnterprise],
    timeline: Timeline,
    public_keys: Mapping[str, str],
    *,
    listed: int = 12,
    with_energy: bool,
) -> dict[str, Any]:
    """The implementation plan: one platform listing ``listed`` enterprises (at least 10).

    Enterprises beyond the simulated ones are listed without an agent (a quick run simulates
    only a few of the platform's pilots). ``public_keys`` maps agent id to ``ed25519:...``.
    """
    baseline = {"start": timeline.baseline[0], "end": timeline.baseline[1]}
    reporting = {"start": timeline.reporting[0], "end": timeline.reporting[1]}
    simulated = {enterprise.id: enterprise for enterprise in enterprises}
    records = []
    for ident, name, industry, cost in _COMPANIES[: max(listed, len(enterprises))]:
        enterprise = simulated.get(ident)
        agents = []
        if enterprise is not None:
            agents = [
                {
                    "id": enterprise.agent_id,
                    "public_key": public_keys[enterprise.agent_id],
                    "devices": enterprise.machine_ids,
                }
            ]
        records.append(
            {
                "id": ident,
                "name": name,
                "industry": industry,
                "retrofit_cost_cny": cost,
                "solution": "设备联网、OEE 看板与能耗分项计量 / machine connectivity, OEE board, "
                "energy sub-metering",
                "timezone": TIMEZONE,
                "baseline": baseline,
                "go_live": timeline.go_live,
                "reporting": reporting,
                "targets": _targets(with_energy),
                "agents": agents,
                **_equipment(enterprise),
            }
        )
    return {
        "province": {"code": "330200", "name": "浙江省宁波市"},
        "batch_year": timeline.go_live.year,
        "implementation_period": {
            "start": dt.date(timeline.go_live.year, 1, 1),
            "end": dt.date(timeline.go_live.year, 12, 31),
        },
        "sub_industries": [
            {"id": SUB_INDUSTRY_ID, "name": "汽车零部件 / auto parts", "category": "auto_parts"}
        ],
        "platforms": [
            {
                "id": PLATFORM_ID,
                "name": "甬链工业互联网平台 / Yonglian industrial-internet platform",
                "sub_industry": SUB_INDUSTRY_ID,
                "enterprises": records,
            }
        ],
    }


@dataclass(frozen=True, slots=True)
class AgentSettings:
    """How the demo's agents read their machines (plant seconds)."""

    poll_interval_s: float
    window_s: int
    comm_loss_after_s: float


def poll_offset_s(device_number: int, poll_interval_s: float) -> float:
    """Where in the poll interval the demo's device number ``device_number`` polls: spread
    by the golden ratio, so the devices of any number of enterprises fall apart evenly.

    On one grid all 36 devices of the full demo asked the one simulator at the same wall
    instant: it answered the last of them up to a poll interval late (40 ms at 15,000x), and
    the agent skipped the next poll (docs/demo.md "Speeds").
    """
    share = (device_number * 0.6180339887498949) % 1.0
    return round(share * poll_interval_s, 3)


def agent_document(
    enterprise: DemoEnterprise,
    plant: PlantConfig,
    *,
    modbus: tuple[str, int],
    opcua_endpoint: str,
    s7: tuple[str, int],
    broker: tuple[str, int],
    clock: Mapping[str, Any],
    paths: Mapping[str, str],
    settings: AgentSettings,
) -> dict[str, Any]:
    """One enterprise's agent configuration: its three machines, the shared plant clock.

    A retrofit enterprise's meters and DI modules are read over Modbus TCP on ``modbus`` (the
    simulator serves their units there too), not over its RTU link: a pass of the line over the
    three machines took a median 12-35 ms of wall time on the demo's 2-core machine under load
    (docs/demo.md, "The scenario"), more than the 12 ms a 600 s poll lasts at 50,000x.
    """
    mine = PlantConfig.model_validate(
        {"machines": [m for m in plant.machines if m.id in enterprise.machine_ids]}
    )
    devices = agent_devices(
        mine,
        modbus=modbus,
        opcua_endpoint=opcua_endpoint,
        s7=s7,
        poll_interval_s=settings.poll_interval_s,
        float_table="holding",
    )
    cycles = {machine.id: machine.cycle_s for machine in mine.machines}
    for position, device in enumerate(devices):
        device["comm_loss_after_s"] = settings.comm_loss_after_s
        device["poll_offset_s"] = poll_offset_s(
            3 * enterprise.index + position, settings.poll_interval_s
        )
        if device["id"] == enterprise.misconfigured_device:
            wrong = cycles[device["id"]] * MISCONFIGURED_IDEAL_CYCLE_FACTOR
            device["ideal_cycle_s"] = round(wrong, 3)
        if device["protocol"] == "opcua":
            # Polling, not a subscription: a subscription's publishing interval is wall time
            # (at least 100 ms, 83 plant minutes at 50,000x), so its values would lag the
            # plant by an hour; one Read per poll is as fresh as a Modbus read.
            device["read_mode"] = "polling"
            device.pop("sampling_interval_s", None)
    return {
        "agent": {
            "id": enterprise.agent_id,
            "platform": PLATFORM_ID,
            "enterprise": enterprise.id,
            "key_path": paths["key"],
            "outbox_path": paths["outbox"],
            "window_s": settings.window_s,
            # The plan's zone for the enterprise: the agent cuts its day seals in it.
            "timezone": TIMEZONE,
        },
        "broker": {"host": broker[0], "port": broker[1]},
        "clock": dict(clock),
        "devices": devices,
    }
