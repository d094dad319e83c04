"""The plant file: machines, their calendars, rates and retrofit scenario (pydantic models).

Every key is documented in ``docs/simulator.md``; durations are seconds, powers kW, energies kWh,
rates are fractions (0.03 = 3 %), times of day are local to the calendar's time zone.
"""

from __future__ import annotations

from datetime import date, datetime, time
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from contract.configfile.document import parse_document
from contract.configfile.types import IssueList
from contract.errors import ConfigInvalidError, InputFileError
from contract.files import read_bounded
from sim.errors import PlantFileError

#: Largest plant file read: a plant of hundreds of machines is tens of kB.
MAX_PLANT_BYTES = 1024 * 1024

__all__ = [
    "WEEKDAYS",
    "Break",
    "Calendar",
    "MachineConfig",
    "PlantConfig",
    "RetrofitConfig",
    "Scenario",
    "Shift",
    "TestPatternConfig",
    "load_plant",
    "parse_plant",
]

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
Fraction = Annotated[float, Field(ge=0.0, le=1.0)]
Positive = Annotated[float, Field(gt=0.0)]
Factor = Annotated[float, Field(gt=0.0)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Break(_Model):
    """A planned stop inside a shift, local times of day."""

    start: time
    end: time


class Shift(_Model):
    """Planned production on the given weekdays; ``end`` before ``start`` crosses midnight."""

    name: str = "shift"
    start: time
    end: time
    days: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri")
    breaks: tuple[Break, ...] = ()


class Calendar(_Model):
    """When the machine is planned to produce; outside shifts it is ``off`` or ``planned_stop``."""

    timezone: str = "UTC"
    shifts: tuple[Shift, ...] = Field(default_factory=tuple)
    holidays: tuple[date, ...] = ()
    outside_shifts: Literal["off", "planned_stop"] = "off"

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}, expected e.g. 'Asia/Shanghai'") from exc
        return value


class Scenario(_Model):
    """The retrofit: from ``go_live`` on, each rate is multiplied by its factor."""

    go_live: datetime
    mtbf_factor: Factor = 1.0
    mttr_factor: Factor = 1.0
    cycle_factor: Factor = 1.0
    reject_factor: Factor = 1.0
    energy_per_part_factor: Factor = 1.0

    @field_validator("go_live")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("go_live needs a UTC offset, e.g. 2026-03-01T00:00:00+08:00")
        return value


UnitId = Annotated[int, Field(ge=1, le=247)]
_RETROFIT_UNITS_HINT = (
    " (a retrofit machine's units are retrofit.meter_unit_id and retrofit.di_unit_id)"
)


class RetrofitConfig(_Model):
    """What a retrofit kit sees of a machine with no controller (``sim.retrofit``).

    A power meter (unit ``meter_unit_id``) on the machine's feed and a digital-input module
    (unit ``di_unit_id``) wired to its run lamp and part switches. Noise touches only what the
    meter shows; inrush and warm-up change the machine itself, so the truth books them.
    """

    meter_unit_id: UnitId
    di_unit_id: UnitId
    #: Bounded uniform noise on power and current: +-(noise_pct % of the power + noise_floor_kw).
    noise_pct: Annotated[float, Field(ge=0.0, le=50.0)] = 2.0
    noise_floor_kw: Annotated[float, Field(ge=0.0)] = 0.05
    #: At power-on (off or planned_stop to a planned state) the draw is inrush_factor times the
    #: new state's for inrush_s seconds.
    inrush_factor: Annotated[float, Field(ge=1.0, le=20.0)] = 6.0
    inrush_s: Annotated[float, Field(ge=0.0, le=600.0)] = 3.0
    #: Idle seconds after each power-on into planned time before the machine runs.
    warmup_s: Annotated[float, Field(ge=0.0, le=7200.0)] = 0.0
    volts: Annotated[float, Field(gt=0.0, le=100000.0)] = 400.0
    power_factor: Annotated[float, Field(gt=0.0, le=1.0)] = 0.85


class MachineConfig(_Model):
    """One simulated machine."""

    id: Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
    protocol: Literal["modbus", "opcua", "s7", "retrofit"]
    unit_id: UnitId | None = None
    #: The power meter and DI module of a ``retrofit`` machine (``sim.retrofit``).
    retrofit: RetrofitConfig | None = None
    #: The data block an ``s7`` machine's values are in (``sim.s7_machine``).
    s7_db: Annotated[int, Field(ge=1, le=65535)] | None = None
    counter_bits: Literal[16, 32] = 32
    word_order: Literal["big", "little"] = "big"
    calendar: Calendar = Field(default_factory=Calendar)
    cycle_s: Positive = 30.0
    cycle_jitter: Annotated[float, Field(ge=0.0, le=0.5)] = 0.05
    reject_rate: Fraction = 0.02
    mtbf_s: Positive = 4 * 3600.0
    mttr_s: Positive = 900.0
    idle_every_s: Positive = 3600.0
    idle_mean_s: Annotated[float, Field(ge=0.0)] = 120.0
    idle_kw: Annotated[float, Field(ge=0.0)] = 2.0
    standby_kw: Annotated[float, Field(ge=0.0)] = 0.2
    energy_per_part_kwh: Annotated[float, Field(ge=0.0)] = 0.05
    energy_start_kwh: Annotated[float, Field(ge=0.0)] = 0.0
    counter_start: Annotated[int, Field(ge=0)] = 0
    counter_resets_per_day: Annotated[float, Field(ge=0.0)] = 0.0
    scenario: Scenario | None = None
    #: A minute-by-minute CSV to replay instead of the model (sim/scripted.py); a relative
    #: path is taken from the plant file's folder.
    script: Path | None = None

    @model_validator(mode="after")
    def _keys_for_protocol(self) -> MachineConfig:
        issues = IssueList("MachineConfig")
        if self.protocol == "modbus" and self.unit_id is None:
            issues.add((), None, f"machine {self.id!r}: protocol modbus needs unit_id (1..247)")
        if self.protocol != "modbus" and self.unit_id is not None:
            hint = _RETROFIT_UNITS_HINT if self.protocol == "retrofit" else ""
            issues.add(
                ("unit_id",),
                self.unit_id,
                f"machine {self.id!r}: unit_id is only for protocol modbus{hint}",
            )
        if self.script is not None and (self.scenario is not None or self.counter_resets_per_day):
            issues.add(
                (),
                None,
                f"machine {self.id!r}: a scripted machine replays its script; scenario and "
                "counter_resets_per_day are for the modelled machine",
            )
        if (self.protocol == "s7") != (self.s7_db is not None):
            issues.add(
                ("s7_db",) if self.s7_db is not None else (),
                self.s7_db,
                f"machine {self.id!r}: s7_db (1..65535) is for, and needed by, s7",
            )
        self._retrofit_issues(issues)
        issues.raise_if_any()
        return self

    def _retrofit_issues(self, issues: IssueList) -> None:
        if self.protocol == "retrofit" and self.retrofit is None:
            issues.add(
                (),
                None,
                f"machine {self.id!r}: protocol retrofit needs a retrofit block "
                "(meter_unit_id, di_unit_id)",
            )
        if self.protocol != "retrofit" and self.retrofit is not None:
            issues.add(
                ("retrofit",),
                "a retrofit block",
                f"machine {self.id!r}: retrofit is only for protocol retrofit",
            )
        if self.protocol == "retrofit" and self.script is not None:
            issues.add(
                ("script",),
                str(self.script),
                f"machine {self.id!r}: a retrofit machine is modelled (inrush, warm-up); "
                "a script is replayed only through the modbus, opcua and s7 maps",
            )
        kit = self.retrofit
        if kit is not None and kit.meter_unit_id == kit.di_unit_id:
            issues.add(
                ("retrofit", "di_unit_id"),
                kit.di_unit_id,
                f"got {kit.di_unit_id}, the same as retrofit.meter_unit_id; the meter and the "
                "DI module are two devices on the bus",
            )

    @property
    def unit_ids(self) -> dict[tuple[str, ...], int]:
        """Every Modbus unit id the machine takes, by its key path in the plant file."""
        units: dict[tuple[str, ...], int] = {}
        if self.unit_id is not None:
            units[("unit_id",)] = self.unit_id
        if self.retrofit is not None:
            units[("retrofit", "meter_unit_id")] = self.retrofit.meter_unit_id
            units[("retrofit", "di_unit_id")] = self.retrofit.di_unit_id
        return units


class TestPatternConfig(_Model):
    """The Modbus device with fixed values of every data type (see ``sim.registers``)."""

    __test__ = False  # a pytest collection hint: this is not a test class

    unit_id: Annotated[int, Field(ge=1, le=247)] = 247


class PlantConfig(_Model):
    """A whole plant: machines plus the optional Modbus test-pattern device."""

    plant: str = "plant"
    machines: tuple[MachineConfig, ...]
    test_pattern: TestPatternConfig | None = None

    @model_validator(mode="after")
    def _unique(self) -> PlantConfig:
        ids = [machine.id for machine in self.machines]
        duplicated = sorted({i for i in ids if ids.count(i) > 1})
        if duplicated:
            raise ValueError(f"duplicate machine ids: {', '.join(duplicated)}")
        issues = IssueList("PlantConfig")
        first_at: dict[int, str] = {}
        for loc, unit in self._unit_places():
            where = _dotted(loc)
            if unit in first_at:
                issues.add(loc, unit, f"unit_id used twice: {unit} (first at {first_at[unit]})")
            else:
                first_at[unit] = where
        issues.raise_if_any()
        return self

    def _unit_places(self) -> list[tuple[tuple[str | int, ...], int]]:
        """Every Modbus unit id of the plant with its key path, in file order."""
        places: list[tuple[tuple[str | int, ...], int]] = []
        for index, machine in enumerate(self.machines):
            for key, unit in machine.unit_ids.items():
                places.append((("machines", index, *key), unit))
        if self.test_pattern is not None:
            places.append((("test_pattern", "unit_id"), self.test_pattern.unit_id))
        return places


def _dotted(loc: tuple[str | int, ...]) -> str:
    """``machines[2].retrofit.di_unit_id`` from a key path."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else f".{part}" if text else part
    return text


def parse_plant(text: str, source: str = "<plant>") -> PlantConfig:
    """Validate plant YAML text, read as every configuration file is (contract.configfile).

    Raises PlantFileError listing every problem as ``source:line key.path: message``.
    """
    try:
        plant, _ = parse_document(
            text, source, PlantConfig, env={}, expected="a mapping with the key machines"
        )
    except ConfigInvalidError as exc:
        raise PlantFileError(source, [str(issue) for issue in exc.issues]) from None
    return plant


def load_plant(path: Path) -> PlantConfig:
    """Read and validate a plant file; a scripted machine's relative script path is taken from
    the plant file's folder (``sim.scripted.check_scripts`` reads the scripts).

    Raises PlantFileError when it cannot be read or is invalid.
    """
    try:
        text = read_bounded(path, MAX_PLANT_BYTES, expected="a plant YAML file").decode("utf-8")
    except InputFileError as exc:
        raise PlantFileError(str(path), [f"{path}: cannot read: {exc.detail}"]) from None
    except UnicodeDecodeError as exc:
        raise PlantFileError(str(path), [f"{path}: not UTF-8 text (offset {exc.start})"]) from None
    plant = parse_plant(text, str(path))
    return plant.model_copy(
        update={"machines": tuple(_script_from(path.parent, m) for m in plant.machines)}
    )


def _script_from(folder: Path, machine: MachineConfig) -> MachineConfig:
    """The machine with its script path taken from the plant file's folder when relative."""
    if machine.script is None or machine.script.is_absolute():
        return machine
    return machine.model_copy(update={"script": folder / machine.script})
