"""``retrofit-agent probe state``: watch a machine's power (or current) and suggest a ``state:``.

The installer names a configured device; the probe reads its level tag (the ``state:`` block's
``power``/``current`` tag, else the tag with role ``power_kw``) through the agent's own source
every ``--interval`` seconds for ``--seconds`` while the machine is run through off, idle and
running, then prints a histogram of what it read and a ``state:`` block ready to paste
(thresholds from :mod:`agent.probe.thresholds`). Durations are wall seconds: on a real machine
those are its own; on the simulator at ``--speed N`` they are N times shorter in plant time.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console

from agent.config import DeviceConfig, Role, load_config
from agent.sources.base import Quality, Reading, Source
from contract.configfile.console import print_issues
from contract.errors import ConfigFileError, ConfigInvalidError

from .options import EXIT_DEVICE_FAILED, EXIT_OK, EXIT_USAGE
from .quiet import quiet_logs
from .thresholds import Sample, Suggestion, suggest_thresholds, transients

__all__ = ["MAX_READINGS", "LevelTag", "level_tag", "probe_state", "state_block"]

#: Readings one probe may take: the threshold search is quadratic in them (1,200 take about a
#: second under load; a minute at the default 0.5 s is 120).
MAX_READINGS = 1200

#: Values beyond this are garbage whatever the machine (the config's own limit on a level).
_ABSURD = 1e9
_BINS = 16
_BAR = 40


@dataclass(frozen=True, slots=True)
class LevelTag:
    """The tag the probe watches: its name, ``power`` or ``current``, and its unit."""

    name: str
    key: str
    unit: str


def level_tag(device: DeviceConfig) -> LevelTag | None:
    """The device's level tag: the state block's, else its ``power_kw`` tag; None if neither."""
    state = device.state
    if state is not None and state.level is not None:
        unit = "kW" if state.level_name == "power" else "A"
        return LevelTag(state.level.tag, state.level_name, unit)
    power = device.role_tag(Role.POWER_KW)
    return None if power is None else LevelTag(power[0], "power", "kW")


def probe_state(
    config_path: Path, device_id: str, seconds: float, interval_s: float, console: Console
) -> int:
    """Read the device's level for ``seconds``, print a histogram and a suggested block.

    Returns an exit code of :mod:`agent.probe.options`; never raises for a user mistake.
    """
    if not (0 < interval_s <= seconds <= 3600):
        _say(console, f"--interval {interval_s:g} and --seconds {seconds:g}: expected "
             "0 < interval <= seconds <= 3600")  # fmt: skip
        return EXIT_USAGE
    if seconds / interval_s > MAX_READINGS:
        _say(console, f"--seconds {seconds:g} / --interval {interval_s:g} is "
             f"{seconds / interval_s:.0f} readings; expected at most {MAX_READINGS}: raise "
             "--interval")  # fmt: skip
        return EXIT_USAGE
    try:
        config = load_config(config_path).config
    except (ConfigFileError, ConfigInvalidError) as exc:
        print_issues(console, exc.issues)
        _say(console, f"{config_path}: fix the configuration first (check-config shows it)")
        return EXIT_USAGE
    device = next((d for d in config.devices if d.id == device_id), None)
    if device is None:
        known = ", ".join(d.id for d in config.devices)
        _say(console, f"--device {device_id!r}: not in {config_path}; its devices: {known}")
        return EXIT_USAGE
    tag = level_tag(device)
    if tag is None:
        _say(console, f"{device_id}: no level to watch; expected a state: block with power or "
             "current, or a tag with role power_kw")  # fmt: skip
        return EXIT_USAGE
    _say(console, f"{device_id}: reading {tag.name} every {interval_s:g} s for {seconds:g} s; "
         "run the machine through off, idle and running now")  # fmt: skip
    samples, bad = asyncio.run(_watch(device, tag.name, seconds, interval_s))
    if isinstance(samples, str):
        _say(console, f"{device_id}: {samples}")
        return EXIT_DEVICE_FAILED
    _say(console, f"{len(samples)} readings of {tag.name} ({tag.unit}), {bad} bad or implausible")
    if not samples:
        _say(console, f"{device_id}: no usable reading of {tag.name}; check-config shows why")
        return EXIT_DEVICE_FAILED
    suggestion = suggest_thresholds(samples, interval_s, device.poll_interval_s)
    _print_histogram(console, samples, tag.unit)
    _say(console, suggestion.advice)
    if suggestion.transient_count:
        longest = f"{suggestion.longest_excursion_s:g}"
        _say(console, f"{suggestion.transient_count} readings above their surroundings for at "
             f"most {longest} s (inrush?) left out of the levels")  # fmt: skip
    block = state_block(device, tag, suggestion)
    if block is not None:
        _say(console, "paste under the device (replacing any state: block):")
        _say(console, block)
    return EXIT_OK


def state_block(device: DeviceConfig, tag: LevelTag, suggestion: Suggestion) -> str | None:
    """The ``state:`` block as YAML indented for a device entry; None without ``off_below``."""
    if suggestion.off_below is None:
        return None
    lines = ["    state:", f"      {tag.key}:", f"        tag: {tag.name}",
             f"        off_below: {suggestion.off_below:g}"]  # fmt: skip
    if suggestion.running_above is not None:
        lines.append(f"        running_above: {suggestion.running_above:g}")
    lines.append(f"        hysteresis: {suggestion.hysteresis:g}")
    lines.append(f"        implausible_above: {suggestion.implausible_above:g}")
    state = device.state
    if state is not None and state.run_signal is not None:
        when = str(state.run_signal.running_when).lower()
        lines.append(f"      run_signal: {{tag: {state.run_signal.tag}, running_when: {when}}}")
    if state is not None and state.counter is not None:
        lines.append(f"      counter: {{within_cycles: {state.counter.within_cycles:g}}}")
    lines.append(f"      min_dwell_s: {suggestion.min_dwell_s:g}")
    return "\n".join(lines)


async def _watch(
    device: DeviceConfig, tag: str, seconds: float, interval_s: float
) -> tuple[list[Sample] | str, int]:
    """(samples, bad count), or (why the device could not be read, 0)."""
    from agent.sources.factory import make_source  # imports the protocol's library

    with quiet_logs("agent.sources", "pymodbus", "asyncua", "snap7"):
        source = make_source(device)
        try:
            async with asyncio.timeout(2 * device.timeout_s * (device.retries + 1) + 5.0):
                await source.connect()
        except TimeoutError:
            await _close(source)
            return "no answer to the connect", 0
        try:
            return await _sample(source, tag, seconds, interval_s)
        finally:
            await _close(source)


async def _sample(
    source: Source, tag: str, seconds: float, interval_s: float
) -> tuple[list[Sample], int]:
    samples: list[Sample] = []
    bad = 0
    start = time.monotonic()
    reads = 0
    while (ts := time.monotonic() - start) < seconds:
        value = _level_value(await source.read(), tag)
        if value is None:
            bad += 1
        else:
            samples.append(Sample(ts, value))
        reads += 1
        await asyncio.sleep(max(0.0, start + reads * interval_s - time.monotonic()))
    return samples, bad


def _level_value(readings: Sequence[Reading], tag: str) -> float | None:
    reading = next((r for r in readings if r.tag == tag), None)
    if reading is None or reading.quality is Quality.BAD:
        return None
    value = reading.value
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) and abs(number) < _ABSURD else None


async def _close(source: Source) -> None:
    try:
        async with asyncio.timeout(5.0):
            await source.close()
    except Exception:  # closing a broken connection may fail; the readings stand
        return


def _print_histogram(console: Console, samples: Sequence[Sample], unit: str) -> None:
    flags = transients(samples)
    values = [s.value for s in samples]
    low, high = min(values), max(values)
    width = (high - low) / _BINS or 1.0
    counts = [0] * _BINS
    for value in values:
        counts[min(_BINS - 1, int((value - low) / width))] += 1
    most = max(counts)
    _say(console, f"{unit:>9} from   readings (each # about {max(1, math.ceil(most / _BAR))})")
    for index, count in enumerate(counts):
        bar = "#" * math.ceil(count * _BAR / most) if count else ""
        _say(console, f"{low + index * width:>14.3f}  {count:>5}  {bar}")
    if any(flags):
        _say(console, f"(the histogram includes {sum(flags)} transient readings)")


def _say(console: Console, text: str) -> None:
    console.print(text, markup=False, highlight=False, soft_wrap=True)
