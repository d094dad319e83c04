"""stack.process: start, readiness errors, stop escalation, and no orphans."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from stack import ChildProcess, ServerStartError, StackError

pytestmark = pytest.mark.timeout(60)

_DEADLINE_S = 10.0


def _alive(pid: int) -> bool:
    """True if `pid` is a live process (a zombie waiting to be reaped counts as dead)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    state = stat.rsplit(")", 1)[1].split()[0]
    return state not in ("Z", "X")


def _wait_dead(pid: int) -> bool:
    deadline = time.monotonic() + _DEADLINE_S
    while time.monotonic() < deadline:
        if not _alive(pid):
            return True
        time.sleep(0.02)
    return False


def test_output_goes_to_log_and_exit_is_reported(tmp_path: Path) -> None:
    child = ChildProcess("crasher", ["sh", "-c", "echo boom >&2; exit 3"], tmp_path / "c.log")
    child.start()
    with pytest.raises(ServerStartError) as caught:
        child.wait_until_ready(lambda: False, timeout_s=_DEADLINE_S)
    assert caught.value.exit_code == 3
    assert "boom" in caught.value.log_tail
    assert "exited with code 3" in str(caught.value)
    assert "boom" in str(caught.value)


def test_log_tail_shows_only_the_current_run(tmp_path: Path) -> None:
    child = ChildProcess("echo", ["sh", "-c", "echo run-$$; exec sleep 60"], tmp_path / "e.log")
    child.start()
    child.wait_until_ready(lambda: "run-" in child.log_tail(), timeout_s=_DEADLINE_S)
    first_pid = child.pid
    child.restart()
    child.wait_until_ready(lambda: "run-" in child.log_tail(), timeout_s=_DEADLINE_S)
    child.stop()
    assert child.pid != first_pid
    assert f"run-{child.pid}" in child.log_tail()
    assert f"run-{first_pid}" not in child.log_tail()
    assert f"run-{first_pid}" in (tmp_path / "e.log").read_text()  # history is kept


def test_not_ready_before_deadline_stops_the_process(tmp_path: Path) -> None:
    child = ChildProcess("sleeper", ["sleep", "60"], tmp_path / "s.log")
    child.start()
    pid = child.pid
    assert pid is not None
    with pytest.raises(ServerStartError) as caught:
        child.wait_until_ready(lambda: False, timeout_s=0.2)
    assert caught.value.exit_code is None
    assert "not ready after 0.2 s" in str(caught.value)
    assert not child.is_running
    assert not _alive(pid)


def test_stop_escalates_to_sigkill_when_sigterm_is_ignored(tmp_path: Path) -> None:
    # Ignored signals stay ignored across exec, so `sleep` ignores SIGTERM too.
    argv = ["sh", "-c", "trap '' TERM; echo armed; exec sleep 60"]
    child = ChildProcess("stubborn", argv, tmp_path / "t.log")
    child.start()
    child.wait_until_ready(lambda: "armed" in child.log_tail(), timeout_s=_DEADLINE_S)
    child.stop(grace_s=0.3)
    assert child.returncode == -signal.SIGKILL


def test_sigterm_stop_reports_clean_exit(tmp_path: Path) -> None:
    child = ChildProcess("sleeper", ["sleep", "60"], tmp_path / "s.log")
    child.start()
    child.stop()
    assert child.returncode == -signal.SIGTERM


def test_child_runs_in_its_own_process_group(tmp_path: Path) -> None:
    with ChildProcess("sleeper", ["sleep", "60"], tmp_path / "s.log") as child:
        assert child.pid is not None
        assert os.getpgid(child.pid) == child.pid
        assert os.getpgid(child.pid) != os.getpgid(0)
    assert not child.is_running


def test_start_twice_is_refused(tmp_path: Path) -> None:
    child = ChildProcess("sleeper", ["sleep", "60"], tmp_path / "s.log")
    with child, pytest.raises(StackError, match="already running"):
        child.start()


def test_missing_binary_is_a_stack_error(tmp_path: Path) -> None:
    child = ChildProcess("ghost", [str(tmp_path / "no-such-binary")], tmp_path / "g.log")
    with pytest.raises(StackError, match="cannot execute"):
        child.start()


def test_child_survives_the_thread_that_started_it(tmp_path: Path) -> None:
    # PR_SET_PDEATHSIG fires when the forking *thread* ends; the spawner thread prevents that.
    child = ChildProcess("sleeper", ["sleep", "60"], tmp_path / "s.log")
    starter = threading.Thread(target=child.start)
    starter.start()
    starter.join()
    try:
        assert child.pid is not None
        # A SIGKILL from the kernel would arrive at once; give it a moment to show if it came.
        assert not _wait_dead_within(child.pid, 0.5)
        assert child.is_running
    finally:
        child.stop()


def _wait_dead_within(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not _alive(pid):
            return True
        time.sleep(0.02)
    return False


_ORPHAN_SCRIPT = """
import sys, time
from pathlib import Path
from stack import ChildProcess
child = ChildProcess("orphan", ["sleep", "600"], Path(sys.argv[1]))
child.start()
print(child.pid, flush=True)
time.sleep(600)
"""


def test_child_dies_when_its_parent_is_killed(tmp_path: Path) -> None:
    parent = subprocess.Popen(
        [sys.executable, "-c", _ORPHAN_SCRIPT, str(tmp_path / "o.log")],
        stdout=subprocess.PIPE,
        cwd=Path(__file__).resolve().parents[2],
    )
    try:
        assert parent.stdout is not None
        child_pid = int(parent.stdout.readline())
        assert _alive(child_pid)
    finally:
        parent.kill()
        parent.communicate()
    assert _wait_dead(child_pid), f"child {child_pid} outlived its SIGKILLed parent"
