"""What storing an enterprise document in the registry costs, beside a blob folder.

docs/collector.md ("Enterprise files") keeps documents' bytes in the registry (SQLite BLOB,
PostgreSQL bytea) rather than in a folder beside it. This measures, for one document of
``--mib`` MiB (a PDF of that size), ``--runs`` times each, in this process:

- attach: the content checks (the PDF parsed for active content in a child process), SHA-256
  and ``Registry.attach`` (one write transaction with its audit row, SQLite with
  ``synchronous = FULL``) of new bytes;
- pdf check: that active-content check alone (``check_pdf``: child start, pypdf's parse);
- read: ``Registry.attachment`` (the download's read);
- folder: the alternative, the bytes written to ``<dir>/<sha256>.new``, fsync'd and renamed
  (what a blob folder needs to be as durable), without any record or audit row;
- with ``--postgres``, attach and read on a PostgreSQL registry (a child ``postgres`` on a
  free loopback port, stack.PostgresServer).

ratio = median SQLite attach / median folder write: the price of the registry's one
transaction (record, bytes and audit together) over a bare file.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import common

from collector.attachments import check_pdf, checked_upload
from collector.plan import load_plan
from collector.registry import Registry

PLAN = (
    Path(__file__).parents[1] / "tests" / "collector" / "plan_cases" / "valid_minimal" / "plan.yaml"
)


def _document(mib: float, serial: int) -> bytes:
    """A real PDF of about ``mib`` MiB (a page showing one image stream of random bytes, as a
    scan is): the content checks parse it (the active-content check's child process)."""
    image = os.urandom(int(mib * 1024 * 1024))
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /XObject << /Im1 5 0 R >> >> >>",
        b"<< /Length 33 >>\nstream\nq 612 0 0 792 0 0 cm /Im1 Do Q\nendstream",
        b"<< /Type /XObject /Subtype /Image /Width 1 /Height 1 /ColorSpace /DeviceGray "
        b"/BitsPerComponent 8 /Length "
        + str(len(image)).encode()
        + b" >>\nstream\n"
        + image
        + b"\nendstream",
    ]
    out = bytearray(b"%PDF-1.7\n%" + str(serial).encode() + b"\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


def _median_ms(times: list[float]) -> str:
    return f"median {statistics.median(times) * 1000:8.1f} ms  min {min(times) * 1000:8.1f} ms"


def _timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def _registry_times(registry: Registry, mib: float, runs: int) -> tuple[list[float], list[float]]:
    registry.load_plan(load_plan(PLAN), by="bench")
    attach, read = [], []
    for serial in range(runs):
        content = _document(mib, serial)

        def store(content: bytes = content) -> object:
            upload = checked_upload(
                content, kind="contract", name="c.pdf", amount=None, max_bytes=len(content)
            )
            return registry.attach("plat-a-e01", upload, by="bench")

        attach.append(_timed(store))
        sha = registry.attachments("plat-a", "plat-a-e01")[-1].sha256

        def fetch(sha: str = sha) -> object:
            return registry.attachment("plat-a", "plat-a-e01", sha)

        read.append(_timed(fetch))
    return attach, read


def _folder_times(folder: Path, mib: float, runs: int) -> list[float]:
    times = []
    for serial in range(runs):
        content = _document(mib, serial)

        def write(content: bytes = content, serial: int = serial) -> None:
            partial = folder / f"{serial}.new"
            with partial.open("wb") as out:
                out.write(content)
                out.flush()
                os.fsync(out.fileno())
            partial.replace(folder / str(serial))

        times.append(_timed(write))
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=float, default=20.0)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--postgres", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        with Registry(root / "registry.sqlite") as registry:
            attach, read = _registry_times(registry, args.mib, args.runs)
        (root / "blobs").mkdir()
        folder = _folder_times(root / "blobs", args.mib, args.runs)
        print(f"attachments: {common.machine_summary()}; load average {os.getloadavg()[0]:.2f}")
        print(f"document: {args.mib} MiB, {args.runs} runs each")
        print(f"sqlite attach: {_median_ms(attach)}")
        print(f"sqlite read:   {_median_ms(read)}")
        print(f"folder write:  {_median_ms(folder)}")
        sample = _document(args.mib, 0)
        checks = [_timed(lambda: check_pdf(sample)) for _ in range(args.runs)]
        print(f"pdf check:     {_median_ms(checks)}")
        if args.postgres:
            from stack import PostgresServer

            server = PostgresServer(root / "pg")
            server.start()
            try:
                server.create_database("bench")
                with Registry(server.url("bench")) as registry:
                    pg_attach, pg_read = _registry_times(registry, args.mib, args.runs)
                print(f"postgres attach: {_median_ms(pg_attach)}")
                print(f"postgres read:   {_median_ms(pg_read)}")
            finally:
                server.stop()
        ours, limit = statistics.median(attach), statistics.median(folder)
        print(
            common.result_line(
                "attachments", ours / limit, f"{ours * 1000:.1f}ms", f"{limit * 1000:.1f}ms",
                "none (a choice's price)", load=f"{os.getloadavg()[0]:.2f}",
            )
        )  # fmt: skip


if __name__ == "__main__":
    main()
