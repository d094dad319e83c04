"""Loading a configuration file: read, parse with line marks, validate, warn.

:func:`load_config` is what the agent and ``check-config`` call; every problem of the file is
collected and raised at once in a :class:`~contract.errors.ConfigInvalidError`.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from agent.config.delivery import DeliveryConfig
from agent.config.devices import DeviceConfig
from agent.config.root import AgentConfig
from agent.config.tags import COUNTER_ROLES, KPI_ROLES, Role
from contract.configfile.document import parse_document
from contract.configfile.yamlload import KeyPath, MarkedData, format_path, read_config_text
from contract.errors import ConfigIssue

__all__ = ["LoadedConfig", "config_digest", "load_config", "parse_config"]


@dataclass(frozen=True, slots=True)
class LoadedConfig:
    """A valid configuration, where it came from, its digest, and warnings worth showing.

    ``digest`` (``sha256:<hex>``) changes when any effective setting changes, not when
    comments or formatting do; secret values are masked before hashing.
    """

    config: AgentConfig
    source: str
    digest: str
    warnings: tuple[ConfigIssue, ...]
    lines: Mapping[KeyPath, int]

    def line_of(self, path: KeyPath) -> int | None:
        """Line of a key path in the file, or of its nearest ancestor written there."""
        for end in range(len(path), -1, -1):
            line = self.lines.get(path[:end])
            if line is not None:
                return line
        return None


def load_config(path: Path, env: Mapping[str, str] | None = None) -> LoadedConfig:
    """Read and validate the configuration file at ``path``.

    ``env`` replaces ``os.environ`` for ``${VAR}`` substitution (tests). Relative paths in the
    file are resolved against the file's directory. Raises ConfigFileError if the file cannot be
    read, ConfigInvalidError listing every problem if its content is not a valid configuration.
    """
    text = read_config_text(path)
    return parse_config(text, str(path), base_dir=path.parent.absolute(), env=env)


def parse_config(
    text: str,
    source: str,
    *,
    base_dir: Path | None = None,
    env: Mapping[str, str] | None = None,
) -> LoadedConfig:
    """Validate configuration text; ``source`` names it in messages. Raises ConfigInvalidError."""
    config, marked = parse_document(
        text,
        source,
        AgentConfig,
        env=env,
        expected="a mapping with the keys agent, broker and devices",
        context={"base_dir": base_dir},
    )
    return LoadedConfig(
        config=config,
        source=source,
        digest=config_digest(config),
        warnings=tuple(config_warnings(config, marked, source)),
        lines=marked.lines,
    )


def config_digest(config: AgentConfig) -> str:
    """``sha256:<hex>`` over the canonical JSON of the validated configuration.

    A ``delivery`` section left at its defaults is left out, so the digest of a configuration
    written before that section existed (#19) does not change with the upgrade.
    """
    values = config.model_dump(mode="json")
    if config.delivery == DeliveryConfig():
        del values["delivery"]
    canonical = json.dumps(values, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "sha256:" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def config_warnings(config: AgentConfig, marked: MarkedData, source: str) -> list[ConfigIssue]:
    """Settings that are valid but probably not what a production gateway wants."""
    found: list[tuple[KeyPath, str]] = []
    if config.clock is not None:
        found.append(
            (
                ("clock",),
                f"simulated plant clock at {config.clock.speed:g}x: for demos and tests only; "
                "production agents leave this block out and use the wall clock",
            )
        )
    if config.broker.tls is None and not _is_loopback(config.broker.host):
        found.append(
            (
                ("broker", "host"),
                f"no tls for broker {config.broker.host}: windows and credentials travel "
                "unencrypted; add a tls block",
            )
        )
    for index, device in enumerate(config.devices):
        found.extend(_device_warnings(index, device))
    return [
        ConfigIssue(source, marked.line_of(path), format_path(path), message, "warning")
        for path, message in found
    ]


def _device_warnings(index: int, device: DeviceConfig) -> list[tuple[KeyPath, str]]:
    roles = {tag.role for _, tag in device.tag_items()}
    found: list[tuple[KeyPath, str]] = []
    if not roles & KPI_ROLES:
        found.append(
            (
                ("devices", index, "tags"),
                "no tag has a KPI role (state, counters, energy, cycle time): this device's "
                "windows will carry data-quality fields only",
            )
        )
    if roles & COUNTER_ROLES and device.ideal_cycle_s is None:
        found.append(
            (
                ("devices", index, "id"),
                "no ideal_cycle_s: performance (ideal cycle x total count / run time) cannot be "
                "computed for this device",
            )
        )
    found.extend(_state_warnings(index, device))
    return found


def _state_warnings(index: int, device: DeviceConfig) -> list[tuple[KeyPath, str]]:
    block = device.state
    if block is None:
        return []
    found: list[tuple[KeyPath, str]] = []
    if device.role_tag(Role.STATE) is not None:
        found.append(
            (
                ("devices", index, "state"),
                "this device also has a state tag: the state tag wins; the block is used while "
                "the state value is bad",
            )
        )
    level = block.level
    dwell, poll = block.min_dwell_s, device.poll_interval_s
    # A new state is adopted by the ceil(D / p)-th poll in a row that sees it (at least one):
    # up to one poll interval, a single poll does (agent.inference, docs/kpi.md "Dwell").
    if level is not None and level.running_above is not None and dwell <= poll:
        found.append(
            (
                ("devices", index, "state", "min_dwell_s"),
                f"{dwell:g} s is not over poll_interval_s ({poll:g} s): a single noisy poll "
                "can switch the state",
            )
        )
    cycle = device.ideal_cycle_s
    if block.counter is not None and cycle is not None:
        within_s = block.counter.within_cycles * cycle
        if within_s < cycle + poll:
            found.append(
                (
                    ("devices", index, "state", "counter", "within_cycles"),
                    f"{block.counter.within_cycles:g} x ideal_cycle_s = {within_s:g} s is under "
                    f"one ideal cycle plus a poll ({cycle + poll:g} s): a running machine can "
                    "show idle between the polls that see its parts",
                )
            )
    return found


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
