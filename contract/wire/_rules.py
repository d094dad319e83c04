"""The window's cross-field rules, once: the pydantic model and the compiled codec both call it."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from contract.wire._errors import FieldRule
from contract.wire._limits import MAX_WINDOW_S, STATE_SUM_TOLERANCE_S
from contract.wire._time import format_timestamp


def check_window_times(
    start: datetime,
    end: datetime,
    state_times: Iterable[float | None],
    comm_loss_s: float,
    scheduled_s: float,
    planned_s: float,
    scheduled_comm_loss_s: float,
    total_count: int | None = None,
    unobserved_count: int | None = None,
    unsampled_run_s: float | None = None,
) -> None:
    """Raise :class:`FieldRule` naming the field if the times (or the unobserved part of the
    count, or the run time the polls may have missed) do not fit the window.

    ``state_times`` are the five state times in :data:`contract.quantities.STATE_TIMES` order:
    they are summed in that order, so the tolerance sees the same float on both codecs.
    """
    state_times = tuple(state_times)
    duration = (end - start).total_seconds()
    if duration <= 0:
        raise FieldRule(
            "end",
            f"window ends at {format_timestamp(end)}, not after its start "
            f"{format_timestamp(start)}",
        )
    if duration > MAX_WINDOW_S:
        raise FieldRule("end", f"window is {duration:g} s long, over {MAX_WINDOW_S} s")
    state_sum = 0.0
    for state_s in state_times:
        if state_s is not None:
            state_sum += state_s
    state_sum += comm_loss_s
    if state_sum > duration + STATE_SUM_TOLERANCE_S:
        raise FieldRule(
            "run_s",
            f"state times plus comm loss add up to {state_sum:g} s, more than the "
            f"window's {duration:g} s",
        )
    for name, value in (("scheduled_s", scheduled_s), ("planned_s", planned_s)):
        if value > duration + STATE_SUM_TOLERANCE_S:
            raise FieldRule(name, f"{value:g} s is more than the window's {duration:g} s")
    if unobserved_count is not None and unobserved_count > (total_count or 0):
        raise FieldRule(
            "unobserved_count",
            f"{unobserved_count} parts counted across comm loss, more than the "
            f"window's total_count ({total_count})",
        )
    if unsampled_run_s is not None:
        _check_unsampled(unsampled_run_s, state_times)
    if scheduled_comm_loss_s > min(comm_loss_s, scheduled_s) + STATE_SUM_TOLERANCE_S:
        raise FieldRule(
            "quality.scheduled_comm_loss_s",
            f"{scheduled_comm_loss_s:g} s is more than the comm loss "
            f"({comm_loss_s:g} s) or the scheduled time ({scheduled_s:g} s)",
        )


def _check_unsampled(unsampled_run_s: float, state_times: tuple[float | None, ...]) -> None:
    # Missed run time lies in time held in a state other than running: idle, down, off and
    # planned stop (STATE_TIMES after run_s), summed in that order on both codecs.
    held = 0.0
    for state_s in state_times[1:]:
        if state_s is not None:
            held += state_s
    if unsampled_run_s > held + STATE_SUM_TOLERANCE_S:
        raise FieldRule(
            "unsampled_run_s",
            f"{unsampled_run_s:g} s of run time the polls may have missed, more than the "
            f"{held:g} s held in states other than running",
        )
