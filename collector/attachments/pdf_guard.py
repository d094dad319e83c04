"""A PDF checked for active content in a child process with limits, so a hostile file cannot
eat the server's memory or time.

pypdf limits each stream it decodes (set lower in :mod:`.pdf_scan`), but not the whole: many
streams, a deep nest of objects or a slow path through a damaged file could still take
memory or minutes, and a thread cannot be stopped. The child can: it runs with an address
space of :data:`PDF_CHECK_MEMORY_BYTES`, :data:`PDF_CHECK_CPU_S` of CPU, no file written,
and is killed after :data:`PDF_CHECK_WALL_S`. At most :data:`PDF_CHECKS_AT_ONCE` run at once
in a process; more wait their turn. Whatever stops the check refuses the file: a PDF that
cannot be checked is not stored.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Final

from collector.attachments.errors import AttachmentRefused

__all__ = [
    "PDF_CHECKS_AT_ONCE",
    "PDF_CHECK_CPU_S",
    "PDF_CHECK_MEMORY_BYTES",
    "PDF_CHECK_WALL_S",
    "check_pdf",
]

#: The child's address space: Python and pypdf take about 60 MiB of it, the document at most
#: ``attachments.max_bytes`` (twice: read, then parsed), each decoded stream at most 32 MiB.
PDF_CHECK_MEMORY_BYTES: Final = 1024 * 1024 * 1024
#: CPU seconds the check may use: an honest document of some 1,000 objects takes well under
#: one (docs/web.md).
PDF_CHECK_CPU_S: Final = 20
#: Wall seconds before the child is killed (a shared, loaded machine: twice the CPU limit).
PDF_CHECK_WALL_S: Final = 40.0
#: Checks at once in one server process; each may take up to its memory limit.
PDF_CHECKS_AT_ONCE: Final = 2
_CHECKS = threading.BoundedSemaphore(PDF_CHECKS_AT_ONCE)
#: The child's program: this folder's pdf_scan.py, which imports nothing of ours.
_SCANNER: Final = Path(__file__).with_name("pdf_scan.py")
_SHOWN = 5


def _unreadable(reason: str) -> AttachmentRefused:
    return AttachmentRefused(
        "unreadable",
        f"the PDF could not be checked for active content: {reason}; it is refused, since "
        "only a checked PDF is stored (print it to PDF again, or scan it)",
    )


def _active(found: list[str]) -> AttachmentRefused:
    shown = "; ".join(found[:_SHOWN]) + (
        f"; and {len(found) - _SHOWN} more" if len(found) > _SHOWN else ""
    )
    return AttachmentRefused(
        "active",
        f"the PDF carries active content a reader could run: {shown}. Such a PDF is refused, "
        "not cleaned (a cleaned invoice is no longer the document signed): upload a version "
        "without it, e.g. printed to PDF again",
    )


def _run_child(data: bytes) -> subprocess.CompletedProcess[bytes]:
    command = [
        sys.executable, "-I", str(_SCANNER), str(PDF_CHECK_MEMORY_BYTES), str(PDF_CHECK_CPU_S)
    ]  # fmt: skip
    # -I: the child reads no environment variable, no user site, and does not put the
    # script's folder on sys.path; it gets the PDF on stdin. Run as a file, not with -m: the
    # scanner imports only the standard library and pypdf, not our package (pydantic...),
    # which halves the child's start (docs/performance.md, "attachments").
    with _CHECKS:
        return subprocess.run(  # our own interpreter and module, no shell
            command, input=data, capture_output=True, timeout=PDF_CHECK_WALL_S, check=False
        )


def check_pdf(data: bytes) -> None:
    """Return if the PDF carries no active content; AttachmentRefused otherwise.

    Reason ``active`` names what was found and where (:mod:`.pdf_scan`); reason
    ``unreadable`` when it could not be checked (damaged, encrypted, over a limit, too slow).
    """
    try:
        done = _run_child(data)
    except subprocess.TimeoutExpired:
        raise _unreadable(f"checking it took more than {PDF_CHECK_WALL_S:.0f} s") from None
    lines = done.stdout.decode("utf-8", "replace").strip().splitlines()
    try:
        answer = json.loads(lines[-1]) if done.returncode == 0 and lines else None
    except ValueError:
        answer = None
    if not isinstance(answer, dict):
        if done.returncode == -signal.SIGXCPU:
            raise _unreadable(f"checking it took more than {PDF_CHECK_CPU_S} s of CPU")
        raise _unreadable(f"the check stopped before it finished (exit {done.returncode})")
    if "unreadable" in answer:
        raise _unreadable(str(answer["unreadable"]))
    found = [str(item) for item in answer.get("found", [])]
    if found:
        raise _active(found)
