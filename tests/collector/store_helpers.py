"""Windows and stores for the store's tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import Any

from collector.store import InfluxStore, WindowRecord
from collector.store.influxql import measurement_path
from contract import wire
from stack import InfluxServer

DIGEST = wire.config_digest(b"agent config")


def quality(**changes: Any) -> wire.DataQuality:
    """A data-quality block with every count 0 unless changed."""
    values: dict[str, Any] = {
        "samples": 60,
        "missed_polls": 0,
        "bad_values": 0,
        "comm_loss_s": 0.0,
        "scheduled_comm_loss_s": 0.0,
        "counter_resets": 0,
        "meter_resets": 0,
        "clock_jumps": 0,
    }
    return wire.DataQuality(**{**values, **changes})


def window(
    end: datetime, device: str = "press-1", seconds: int = 60, **changes: Any
) -> wire.KpiWindow:
    """A measured window of ``seconds`` ending at ``end``, every quantity set unless changed."""
    values: dict[str, Any] = {
        "device": device,
        "start": end - timedelta(seconds=seconds),
        "end": end,
        "provenance": "measured",
        "config_digest": DIGEST,
        "scheduled_s": float(seconds),
        "planned_s": float(seconds),
        "run_s": seconds * 0.75,
        "idle_s": seconds * 0.125,
        "down_s": seconds * 0.125,
        "off_s": 0.0,
        "planned_stop_s": 0.0,
        "total_count": 10,
        "good_count": 9,
        "reject_count": 1,
        "energy_kwh": 0.25,
        "ideal_cycle_s": 4.0,
        "quality": quality(),
    }
    values.update(changes)
    # As the agent computes them from the window's counts, unless the test gives them.
    ideal, good, total = values["ideal_cycle_s"], values["good_count"], values["total_count"]
    values.setdefault("ideal_good_s", None if ideal is None or good is None else ideal * good)
    values.setdefault("unobserved_count", None if total is None else 0)
    # A device with a state and a counter: a twentieth of the window, within the time held
    # idle, down, off or in planned stop, may have run.
    held = sum(values[name] or 0.0 for name in ("idle_s", "down_s", "off_s", "planned_stop_s"))
    has_both = values["run_s"] is not None and total is not None
    values.setdefault("unsampled_run_s", min(seconds * 0.05, held) if has_both else None)
    # A device with a state: block whose state code failed over to inference a tenth of the time.
    inferred = values["planned_s"] * 0.1 if values["run_s"] is not None else None
    values.setdefault("inferred_planned_s", inferred)
    return wire.KpiWindow(**values)


def record(
    win: wire.KpiWindow, seq: int = 1, enterprise: str = "ent-01", agent: str = "gw-01"
) -> WindowRecord:
    """The window as the store receives it from an envelope of platform plat-a."""
    return WindowRecord("plat-a", enterprise, agent, seq, win)


@asynccontextmanager
async def open_store(server: InfluxServer, **options: Any) -> AsyncIterator[InfluxStore]:
    """A store on database ``rv`` of ``server``, database and retention policies created."""
    async with InfluxStore(server.url, "rv", **options) as store:
        await store.ensure_database()
        await store.ensure_retention()
        yield store


async def count_windows(store: InfluxStore) -> int:
    """Points in kpi_window (raw retention policy)."""
    source = measurement_path("rv", store.raw_retention_policy, "kpi_window")
    rows = await store.query(f'SELECT COUNT("window_start_ms") FROM {source}')  # noqa: S608
    return int(rows[0]["count"]) if rows else 0
