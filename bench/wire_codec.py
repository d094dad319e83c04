"""CPU per window of ingest's hot steps: the compiled codec against msgspec's bare decoding.

One process, no servers: a realistic 20-window envelope (20 devices, one agent), each step
timed in CPU time (``time.process_time``), best of several repeats so that a busy machine
costs as little as possible. Per window:

- **ours** (the ratio): ``wire.decode_windows``, the collector's decoding: every field, range,
  identifier and cross-field rule checked and the bytes proven canonical;
- **limit**: msgspec decoding the same bytes into Structs of the same shape with no
  constraint, no rule and no canonical check: what the library costs at the least;
- **before**: the pydantic path ingest used until #20 (``model_validate_json`` then the
  canonical re-encoding), for the record;
- ``line_us``: ``window_line`` of the decoded windows; ``verify_us``: ``verify_received``;
  ``hot_us``: the three together, against the issue's goal for the whole ingest (15 µs a
  window, #20), of which they are only a part.

    .venv/bin/python bench/wire_codec.py [--quick]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import common
import msgspec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from collector.store import window_line, window_records
from contract import quantities, wire

WINDOWS = 20
KEY = Ed25519PrivateKey.generate()
T0 = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)


def envelope() -> wire.Envelope:
    """20 one-minute windows of 20 presses, as an agent sends them at a window close."""
    quality = wire.DataQuality(
        samples=60,
        missed_polls=0,
        bad_values=0,
        comm_loss_s=0.0,
        scheduled_comm_loss_s=0.0,
        counter_resets=0,
        meter_resets=0,
        clock_jumps=0,
    )
    records = [
        wire.KpiWindow(
            device=f"press-{n:02d}",
            start=T0,
            end=T0 + timedelta(minutes=1),
            provenance="measured",
            config_digest=wire.config_digest(b"agent.yaml"),
            scheduled_s=60.0,
            planned_s=60.0,
            run_s=40.0 + n / 4,
            idle_s=10.0,
            down_s=5.0,
            off_s=0.0,
            planned_stop_s=0.0,
            total_count=12 + n,
            good_count=11 + n,
            reject_count=1,
            energy_kwh=0.25 + n / 7,
            unsampled_run_s=2.0 + n / 8,
            ideal_cycle_s=3.5,
            quality=quality,
        )
        for n in range(WINDOWS)
    ]
    return wire.seal_envelope(
        platform="plat-a",
        enterprise="ent-01",
        agent="gw-01",
        seq=1,
        sent=T0 + timedelta(seconds=61),
        records=records,
        key=KEY,
    )


def bare_decoder() -> msgspec.json.Decoder[object]:
    """msgspec decoding into Structs of the envelope's shape: no constraint, rule or check."""
    float_or_int = {"float": float, "integer": int}
    quality = msgspec.defstruct(
        "Quality", [(q.name, float_or_int[q.kind]) for q in quantities.QUALITY_QUANTITIES]
    )
    names = (*quantities.BASE_QUANTITIES, *quantities.REFERENCE)
    window = msgspec.defstruct(
        "Window",
        [
            *((name, str) for name in ("device", "start", "end", "provenance", "config_digest")),
            ("kind", str),
            ("partial", bool),
            *((q.name, float_or_int[q.kind] | None) for q in names if not q.absent_is_null),
            *((q.name, float_or_int[q.kind] | None, None) for q in names if q.absent_is_null),
            ("quality", quality),
        ],
        kw_only=True,  # the absent-is-null quantities have a default (None)
    )
    shape = msgspec.defstruct(
        "Envelope",
        [
            *((name, str) for name in ("platform", "enterprise", "agent", "sent", "sig")),
            ("v", int),
            ("seq", int),
            ("records", list[window]),  # type: ignore[valid-type]  # built from data
        ],
    )
    decoder: msgspec.json.Decoder[object] = msgspec.json.Decoder(shape)
    return decoder


def per_window_us(step: Callable[[], object], calls: int, repeats: int) -> float:
    """Best CPU microseconds per window over ``repeats`` runs of ``calls`` calls of ``step``."""
    best = float("inf")
    for _ in range(repeats):
        started = time.process_time()
        for _ in range(calls):
            step()
        best = min(best, (time.process_time() - started) / calls / WINDOWS * 1e6)
    return best


def before(raw: bytes) -> wire.Envelope:
    """The pydantic path of main before #20: one-pass validation, then the re-encoding."""
    message = wire.Envelope.model_validate_json(raw)
    if message.v != wire.WIRE_VERSION or wire.encode(message) != raw:
        raise ValueError("not canonical")
    return message


def main() -> None:
    """Time each step and print the result line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smoke figure in a few seconds")
    args = parser.parse_args()
    calls, repeats = (300, 3) if args.quick else (2000, 7)
    print(f"wire_codec: {common.machine_summary()}, load average {common.load_average()}")
    raw = wire.encode(envelope())
    received = wire.decode_windows(raw)
    records = window_records(received)
    bare = bare_decoder()
    figures = {
        "ours": per_window_us(lambda: wire.decode_windows(raw), calls, repeats),
        "limit": per_window_us(lambda: bare.decode(raw), calls, repeats),
        "before": per_window_us(lambda: before(raw), calls, repeats),
        "line": per_window_us(lambda: [window_line(r) for r in records], calls, repeats),
        "verify": per_window_us(
            lambda: wire.verify_received(raw, received, KEY.public_key()), calls, repeats
        ),
    }
    for name, value in figures.items():
        print(f"  {name:7s} {value:7.2f} us/window")
    print(f"  load average at the end {common.load_average()}")
    print(
        common.result_line(
            "wire_codec",
            figures["limit"] / figures["ours"],
            f"{figures['ours']:.2f}us/window",
            f"{figures['limit']:.2f}us/window",
            "hot_us<=15",
            hot_us=f"{figures['ours'] + figures['line'] + figures['verify']:.2f}",
            before_us=f"{figures['before']:.2f}",
            line_us=f"{figures['line']:.2f}",
            verify_us=f"{figures['verify']:.2f}",
            ratio_means="limit/ours",
        )
    )


if __name__ == "__main__":
    main()
