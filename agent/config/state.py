"""The ``state:`` block: a machine state inferred from signals, for machines without a state code.

A retrofit on a machine with no networked controller sees its power or current (a meter or a
clamp), perhaps its run lamp (a digital input) and a part counter. This block says how those
signals become off / idle / running (``agent.inference``, docs/kpi.md "Inferred state"):

- ``power`` or ``current`` (one level source): ``off_below`` and ``running_above`` are the
  rising edges of a Schmitt trigger, ``hysteresis`` how far a level must fall back below an
  edge to leave the class above it; ``implausible_above`` (default 10 x the highest edge) marks
  garbage from a meter: such a reading is a bad value, never a state.
- ``run_signal``: a bool, bit or integer tag; ``running_when`` is its value while running.
- ``counter``: running while the ``total_count`` counter advanced within ``within_cycles`` x
  ``ideal_cycle_s`` before the poll.
- ``min_dwell_s``: a new inferred state must hold this long before it counts.

The models check what one block can; :meth:`StateInferenceConfig.device_issues` checks it
against its device's tags and settings (the device calls it: only it sees both).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated

from pydantic import model_validator

from agent.config.tags import TagConfig, ValueKind, value_kind
from contract.configfile.types import ConfigModel, Identifier, IssueList, float_range

__all__ = [
    "IMPLAUSIBLE_FACTOR",
    "CounterActivityConfig",
    "LevelConfig",
    "RunSignalConfig",
    "StateInferenceConfig",
]

#: Without ``implausible_above``, a level above this many times the highest edge is garbage.
IMPLAUSIBLE_FACTOR = 10.0
_LEVEL = float_range(0, 1e9, low_open=True)
_LEVEL_KINDS: tuple[ValueKind, ...] = ("number", "integer", "any")
_SIGNAL_KINDS: tuple[ValueKind, ...] = ("bool", "integer", "any")


class LevelConfig(ConfigModel):
    """Thresholds on a power (kW) or current (A) tag, in the tag's own unit after scaling."""

    tag: Identifier
    off_below: Annotated[float, _LEVEL]
    running_above: Annotated[float, _LEVEL] | None = None
    hysteresis: Annotated[float, float_range(0, 1e9)] = 0.0
    implausible_above: Annotated[float, _LEVEL] | None = None

    @property
    def highest_edge(self) -> float:
        """The highest rising edge: ``running_above`` if set, else ``off_below``."""
        return self.off_below if self.running_above is None else self.running_above

    @property
    def implausible_limit(self) -> float:
        """Readings above this are bad values (as configured, else 10 x the highest edge)."""
        if self.implausible_above is not None:
            return self.implausible_above
        return IMPLAUSIBLE_FACTOR * self.highest_edge

    @model_validator(mode="after")
    def _check(self) -> LevelConfig:
        issues = IssueList("LevelConfig")
        if self.hysteresis >= self.off_below:
            issues.add(
                ("hysteresis",),
                self.hysteresis,
                f"got {self.hysteresis:g}, expected less than off_below {self.off_below:g} "
                "(a machine must be able to fall back to off)",
            )
        top = self.running_above
        if top is not None and self.off_below > top - self.hysteresis:
            issues.add(
                ("off_below",),
                self.off_below,
                f"got {self.off_below:g}, expected at most running_above - hysteresis = "
                f"{top - self.hysteresis:g} (off above idle overlaps)",
            )
        if self.implausible_above is not None and self.implausible_above <= self.highest_edge:
            edge = "running_above" if self.running_above is not None else "off_below"
            issues.add(
                ("implausible_above",),
                self.implausible_above,
                f"got {self.implausible_above:g}, expected more than {edge} "
                f"{self.highest_edge:g} (a level above it is garbage, not a state)",
            )
        issues.raise_if_any()
        return self


class RunSignalConfig(ConfigModel):
    """A run lamp, spindle-on or cycle input: running while it equals ``running_when``."""

    tag: Identifier
    running_when: bool | int = True


class CounterActivityConfig(ConfigModel):
    """Running while the ``total_count`` counter advanced within ``within_cycles`` ideal cycles."""

    within_cycles: Annotated[float, float_range(0, 1000, "cycles", low_open=True)] = 3.0


class StateInferenceConfig(ConfigModel):
    """A device's ``state:`` block; see the module docstring and docs/configuration.md."""

    power: LevelConfig | None = None
    current: LevelConfig | None = None
    run_signal: RunSignalConfig | None = None
    counter: CounterActivityConfig | None = None
    min_dwell_s: Annotated[float, float_range(0, 3600, "s")] = 0.0

    @property
    def level(self) -> LevelConfig | None:
        """The level source (power or current), if any."""
        return self.power if self.power is not None else self.current

    @property
    def level_name(self) -> str:
        """``power`` or ``current``: the key the level source was given under."""
        return "power" if self.power is not None else "current"

    @model_validator(mode="after")
    def _check(self) -> StateInferenceConfig:
        issues = IssueList("StateInferenceConfig")
        if self.power is not None and self.current is not None:
            issues.add(("current",), "(set)", "not allowed together with power; one level source")
        sources = (self.power, self.current, self.run_signal, self.counter)
        if all(source is None for source in sources):
            issues.add(
                (),
                None,
                "no source to infer a state from; expected at least one of power, current, "
                "run_signal, counter",
            )
        issues.raise_if_any()
        return self

    def device_issues(
        self,
        issues: IssueList,
        tags: Mapping[str, TagConfig],
        *,
        ideal_cycle_s: float | None,
        has_total_count: bool,
    ) -> None:
        """Record what this block asks of its device: tags that exist and hold the right kind
        of value, and what counter activity needs. Locations are relative to the device."""
        level = self.level
        if level is not None:
            unit = "power in kW" if self.power is not None else "current in A"
            expected = f"a numeric tag for a level ({unit})"
            where = ("state", self.level_name, "tag")
            _tag_issue(issues, tags, where, level.tag, _LEVEL_KINDS, expected)
        if self.run_signal is not None:
            self._signal_issues(issues, tags, self.run_signal)
        if self.counter is None:
            return
        if ideal_cycle_s is None:
            issues.add(
                ("state", "counter"),
                "(set)",
                "needs ideal_cycle_s on this device: within_cycles counts ideal cycles",
            )
        if not has_total_count:
            issues.add(
                ("state", "counter"),
                "(set)",
                "needs a tag with role total_count on this device: its advance is the activity",
            )

    @staticmethod
    def _signal_issues(
        issues: IssueList, tags: Mapping[str, TagConfig], signal: RunSignalConfig
    ) -> None:
        expected = "a bool, bit or integer tag for a run signal"
        where = ("state", "run_signal", "tag")
        _tag_issue(issues, tags, where, signal.tag, _SIGNAL_KINDS, expected)
        tag = tags.get(signal.tag)
        is_bool = tag is not None and value_kind(tag) == "bool"
        if is_bool and signal.running_when not in (True, False):  # 1 and 0 are true and false
            issues.add(
                ("state", "run_signal", "running_when"),
                signal.running_when,
                f"got {signal.running_when}, expected true or false for the bool tag "
                f"{signal.tag!r} (it could never say running)",
            )


def _tag_issue(
    issues: IssueList,
    tags: Mapping[str, TagConfig],
    loc: tuple[str, ...],
    name: str,
    kinds: tuple[ValueKind, ...],
    expected: str,
) -> None:
    tag = tags.get(name)
    if tag is None:
        known = ", ".join(tags)
        issues.add(loc, name, f"got {name!r}, expected one of this device's tags: {known}")
    elif value_kind(tag) not in kinds:
        data_type = getattr(tag, "data_type", None)
        issues.add(loc, name, f"got tag {name!r} (data_type {data_type}), expected {expected}")
