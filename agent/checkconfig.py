"""``retrofit-agent check-config``: validate a configuration and, online, read each tag once.

Exit codes (also in ``docs/configuration.md``):

- 0: the configuration is valid (and, online, every device answered with good values);
- 1: the configuration has errors, all of them printed with file, line and key path;
- 2: usage error: the file cannot be read (missing, a directory, binary, too large);
- 3: online only: one or more devices unreachable or returning bad values (a level reading a
  ``state:`` block finds implausible, such as 3.4e38 W from a meter, is a bad value).

Online, a device with a ``state:`` block also gets the state inferred from its one reading,
with why, and a warning when its run signal and its level disagree.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.table import Table
from rich.text import Text

from agent.config import (
    AgentConfig,
    DeviceConfig,
    LevelConfig,
    LoadedConfig,
    OpcUaDeviceConfig,
    Role,
    StateInferenceConfig,
    load_config,
)
from agent.config.devices import ModbusRtuDeviceConfig, ModbusTcpDeviceConfig, S7DeviceConfig
from agent.config.tags import KPI_ROLES
from agent.errors import SourceError
from agent.inference import StateInference, make_inference
from agent.sources.base import Quality, Reading, Source
from contract.configfile.console import print_issues
from contract.configfile.yamlload import KeyPath, format_path
from contract.errors import ConfigFileError, ConfigInvalidError, ConfigIssue

__all__ = [
    "EXIT_CONFIG_ERRORS",
    "EXIT_DEVICES_FAILED",
    "EXIT_OK",
    "EXIT_USAGE",
    "DeviceProbe",
    "check_config",
    "probe_device",
]

log = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_CONFIG_ERRORS = 1
EXIT_USAGE = 2
EXIT_DEVICES_FAILED = 3

SourceFactory = Callable[[DeviceConfig], Source]


def check_config(
    path: Path,
    offline: bool,
    console: Console,
    *,
    env: Mapping[str, str] | None = None,
    source_factory: SourceFactory | None = None,
) -> int:
    """Validate the configuration at ``path``, print the outcome, and return the exit code.

    Offline it prints every error (or a summary table of devices and tags); online it also
    connects to each device and prints one reading per tag. ``env`` replaces ``os.environ``
    and ``source_factory`` replaces :func:`agent.sources.factory.make_source` (tests).
    Never raises for a user mistake.
    """
    try:
        loaded = load_config(path, env)
    except ConfigFileError as exc:
        print_issues(console, exc.issues)
        return EXIT_USAGE
    except ConfigInvalidError as exc:
        print_issues(console, exc.issues)
        count = len(exc.issues)
        console.print(
            f"{path}: {_count(count, 'error')}; fix them and run check-config again",
            markup=False,
            highlight=False,
        )
        return EXIT_CONFIG_ERRORS
    warnings = sorted(
        (*loaded.warnings, *_file_warnings(loaded), *_zone_warnings(loaded)),
        key=lambda issue: (issue.line or 0, issue.path),
    )
    print_issues(console, warnings)
    _print_summary(console, loaded, len(warnings))
    if offline:
        return EXIT_OK
    if source_factory is None:
        # Imported here so that offline checks never load the device libraries.
        from agent.sources.factory import make_source

        source_factory = make_source
    probes = asyncio.run(_probe_all(loaded.config, source_factory))
    for device, probe in zip(loaded.config.devices, probes, strict=True):
        _print_probe(console, probe)
        if probe.error is None:
            _print_inferred(console, device, probe.readings)
    failed = [probe.device_id for probe in probes if not probe.ok]
    if failed:
        console.print(
            f"{len(failed)} of {len(probes)} devices failed: {', '.join(failed)}",
            markup=False,
            highlight=False,
        )
        return EXIT_DEVICES_FAILED
    console.print(f"all {len(probes)} devices answered", markup=False, highlight=False)
    return EXIT_OK


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def _file_warnings(loaded: LoadedConfig) -> list[ConfigIssue]:
    """Files the configuration names that do not exist on this machine (yet)."""
    config = loaded.config
    paths: list[tuple[KeyPath, Path | None, str]] = [
        (("agent", "key_path"), config.agent.key_path, "create it with retrofit-agent keygen"),
    ]
    if config.broker.tls is not None:
        tls = config.broker.tls
        for key in ("ca_path", "cert_path", "key_path"):
            paths.append((("broker", "tls", key), getattr(tls, key), "the agent cannot connect"))
    for index, device in enumerate(config.devices):
        if isinstance(device, OpcUaDeviceConfig):
            for key in ("certificate_path", "private_key_path", "server_certificate_path"):
                path = getattr(device, key)
                paths.append((("devices", index, key), path, "the agent cannot log in"))
    return [
        ConfigIssue(
            loaded.source,
            loaded.line_of(key_path),
            format_path(key_path),
            f"{_shown_path(path)} does not exist on this machine; {consequence}",
            "warning",
        )
        for key_path, path, consequence in paths
        if path is not None and not path.exists()
    ]


def _zone_warnings(loaded: LoadedConfig) -> list[ConfigIssue]:
    """Device calendars in another zone than ``agent.timezone``, the zone days are sealed in."""
    zone = loaded.config.agent.timezone
    return [
        ConfigIssue(
            loaded.source,
            loaded.line_of(("devices", index, "calendar", "timezone")),
            format_path(("devices", index, "calendar", "timezone")),
            f"{device.calendar.timezone} is not agent.timezone {zone}: shifts are planned in "
            f"{device.calendar.timezone} but days are cut and sealed in {zone}, which must be "
            "the plan's zone; set agent.timezone if the plant is in "
            f"{device.calendar.timezone}",
            "warning",
        )
        for index, device in enumerate(loaded.config.devices)
        if device.calendar is not None and device.calendar.timezone != zone
    ]


def _shown_path(path: Path) -> str:
    # Relative to where the installer stands when it is below it: shorter, and what they typed.
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _connection(device: DeviceConfig) -> str:
    if isinstance(device, ModbusTcpDeviceConfig):
        return f"{device.host}:{device.port} unit {device.unit_id}"
    if isinstance(device, ModbusRtuDeviceConfig):
        parity = device.parity[0].upper()
        line = f"{device.baudrate} {device.byte_size}{parity}{device.stop_bits}"
        return f"{device.serial_port} {line} unit {device.unit_id}"
    if isinstance(device, S7DeviceConfig):
        where = f"{device.host}:{device.port} rack {device.rack} slot {device.slot}"
        return f"{where} ({device.connection_type.upper()})"
    return f"{device.endpoint} ({device.security_policy}, {device.read_mode})"


def _print_summary(console: Console, loaded: LoadedConfig, warning_count: int) -> None:
    config = loaded.config
    table = Table(title=None, show_edge=False, pad_edge=False)
    for column in ("device", "protocol", "connection", "poll s", "tags", "KPI roles"):
        table.add_column(column)
    for device in config.devices:
        tags = device.tag_items()
        roles = ", ".join(tag.role.value for _, tag in tags if tag.role in KPI_ROLES)
        table.add_row(
            device.id,
            device.protocol,
            _connection(device),
            f"{device.poll_interval_s:g}",
            str(len(tags)),
            roles or "-",
        )
    console.print(table)
    tag_count = sum(len(device.tag_items()) for device in config.devices)
    agent = config.agent
    noted = f", {_count(warning_count, 'warning')}" if warning_count else ""
    console.print(
        f"{loaded.source}: OK: agent {agent.id} (platform {agent.platform}, enterprise "
        f"{agent.enterprise}), {_count(len(config.devices), 'device')}, "
        f"{_count(tag_count, 'tag')}{noted}",
        markup=False,
        highlight=False,
    )
    console.print(
        f"days: cut in {agent.timezone} (agent.timezone; the plan's zone must be the same), "
        f"each sealed {agent.seal_grace_s} s after it ends (agent.seal_grace_s)",
        markup=False,
        highlight=False,
    )


@dataclass(frozen=True, slots=True)
class DeviceProbe:
    """The outcome of reading one device once: its readings, or why there are none."""

    device_id: str
    readings: tuple[Reading, ...]
    error: str | None
    #: Level tags whose value is garbage for state inference (NaN, 3.4e38 from a meter).
    implausible: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """True when the device answered and every value is good (and plausible)."""
        good = all(r.quality is Quality.GOOD for r in self.readings)
        return self.error is None and good and not self.implausible


def _probe_budget_s(device: DeviceConfig) -> float:
    # Connect plus one read, each allowed every retry, plus slack for an OPC UA session.
    return 2 * device.timeout_s * (device.retries + 1) + 5.0


async def probe_device(device: DeviceConfig, source_factory: SourceFactory) -> DeviceProbe:
    """Connect to ``device``, read each tag once, close; never raises for a device fault."""
    try:
        source = source_factory(device)
    except SourceError as exc:
        return DeviceProbe(device.id, (), exc.detail)
    budget_s = _probe_budget_s(device)
    try:
        async with asyncio.timeout(budget_s):
            await source.connect()
            readings = tuple(await source.read())
    except TimeoutError:
        return DeviceProbe(device.id, (), f"no answer within {budget_s:g} s")
    except Exception as exc:  # a source must not raise; if one does, report it, not a traceback
        log.debug("device %s: probe failed", device.id, exc_info=True)
        return DeviceProbe(device.id, (), f"{type(exc).__name__}: {exc}")
    finally:
        await _close_quietly(source, device.id)
    inference = make_inference(device)
    implausible = () if inference is None else inference.classify_once(readings).bad_tags
    return DeviceProbe(device.id, readings, None, implausible)


async def _close_quietly(source: Source, device_id: str) -> None:
    try:
        async with asyncio.timeout(5.0):
            await source.close()
    except Exception:  # closing a broken connection may fail; the probe result stands
        log.debug("device %s: close failed", device_id, exc_info=True)


async def _probe_all(config: AgentConfig, source_factory: SourceFactory) -> list[DeviceProbe]:
    # One device's silence must not hold up the others: probe them concurrently.
    return list(
        await asyncio.gather(*(probe_device(device, source_factory) for device in config.devices))
    )


def _print_probe(console: Console, probe: DeviceProbe) -> None:
    if probe.error is not None:
        console.print(Text(f"{probe.device_id}: {probe.error}", style="red"), soft_wrap=True)
        return
    table = Table(title=f"{probe.device_id}", show_edge=False, pad_edge=False)
    for column in ("tag", "raw", "scaled", "quality", "latency ms"):
        table.add_column(column)
    for reading in probe.readings:
        quality = reading.quality.value
        if reading.reason:
            quality = f"{quality}: {reading.reason}"
        implausible = reading.tag in probe.implausible
        if implausible:
            quality = "bad: implausible level (see the inferred state)"
        latency = "-" if reading.latency_s is None else f"{reading.latency_s * 1000:.1f}"
        table.add_row(
            Text(reading.tag),
            Text(_short(reading.raw)),
            Text(_short(reading.value)),
            Text(quality, style="red" if implausible or reading.quality is Quality.BAD else ""),
            latency,
        )
    console.print(table)


def _print_inferred(console: Console, device: DeviceConfig, readings: Sequence[Reading]) -> None:
    """Print the state inferred from one set of ``readings`` and why; warn when the run
    signal and the level disagree. Nothing for a device without a ``state:`` block."""
    state = device.state
    if state is None:
        return
    inferred = StateInference(state, device).classify_once(readings)
    by_tag = {reading.tag: reading for reading in readings}
    level_value, level_why = _level_why(state, by_tag, inferred.bad_tags)
    signal_value, signal_why = _signal_why(state, by_tag)
    reasons = [why for why in (level_why, signal_why) if why]
    if state.counter is not None:
        reasons.append("counter activity needs two polls")
    if device.role_tag(Role.STATE) is not None:
        reasons.append("the state tag wins while its value is usable")
    reasons.append("one reading: min_dwell_s not applied")
    shown = "none: nothing usable (comm loss)" if inferred.state is None else inferred.state.value
    style = "red" if inferred.state is None or inferred.bad_tags else ""
    console.print(
        Text(f"{device.id} inferred state: {shown} ({'; '.join(reasons)})", style=style),
        soft_wrap=True,
    )
    disagreement = _disagreement(state, level_value, signal_value)
    if disagreement is not None:
        console.print(Text(f"{device.id} warning: {disagreement}", style="yellow"), soft_wrap=True)


def _level_why(
    state: StateInferenceConfig, by_tag: Mapping[str, Reading], bad_tags: Sequence[str]
) -> tuple[float | None, str]:
    """The level's usable value (or None) and how it compares with the edges."""
    level = state.level
    if level is None:
        return None, ""
    name = state.level_name
    reading = by_tag.get(level.tag)
    value = None if reading is None else reading.value
    if level.tag in bad_tags:
        limits = f"expected -{level.hysteresis:g}..{level.implausible_limit:g}"
        shown = f"{value:g}" if isinstance(value, float) else str(value)
        return None, f"{name} {shown}: implausible, a bad value ({limits})"
    unusable = f"{name}{'' if level.tag == name else f' (tag {level.tag})'}: no usable value"
    if reading is None or reading.quality is Quality.BAD or isinstance(value, bool):
        return None, unusable
    if not isinstance(value, int | float):
        return None, unusable
    number = float(value)
    unit = "kW" if name == "power" else "A"
    return number, f"{name} {number:.2f} {unit}: {_edges(level, number)}"


def _edges(level: LevelConfig, value: float) -> str:
    below = value < level.off_below
    edges = [f"{'<' if below else '≥'} off_below {level.off_below:g}"]
    if level.running_above is not None and not below:
        above = value >= level.running_above
        edges.append(f"{'≥' if above else '<'} running_above {level.running_above:g}")
    return ", ".join(edges)


def _signal_why(
    state: StateInferenceConfig, by_tag: Mapping[str, Reading]
) -> tuple[bool | None, str]:
    """Whether the run signal says running (None: no signal or unusable) and how it reads."""
    signal = state.run_signal
    if signal is None:
        return None, ""
    reading = by_tag.get(signal.tag)
    value = None if reading is None else reading.value
    if reading is None or reading.quality is Quality.BAD or not isinstance(value, bool | int):
        return None, f"{signal.tag}: no usable value"
    shown = str(value).lower() if isinstance(value, bool) else str(value)
    return value == signal.running_when, f"{signal.tag} {shown}"


def _disagreement(
    state: StateInferenceConfig, level_value: float | None, running: bool | None
) -> str | None:
    """A run signal and a level that cannot both be right, said with the likely causes."""
    level, signal = state.level, state.run_signal
    if level is None or signal is None or level_value is None or running is None:
        return None
    name = state.level_name
    if running and level_value < level.off_below:
        return (
            f"{signal.tag} says running but {name} {level_value:.2f} is below off_below "
            f"{level.off_below:g}: a clamp on the wrong phase or feed, or the wrong input?"
        )
    top = level.running_above
    if not running and top is not None and level_value >= top:
        return (
            f"{name} {level_value:.2f} is at or above running_above {top:g} but {signal.tag} says "
            "not running: the wrong input, or running_above too low?"
        )
    return None


def _short(value: object) -> str:
    text = "-" if value is None else str(value)
    return text if len(text) <= 40 else text[:37] + "..."
