"""The cost of one password check, and that an unknown login name costs the same.

A password login checks an argon2id hash (collector/accounts/passwords.py, RFC 9106 low-memory
parameters: t=3, 64 MiB, p=4); a login name that does not exist checks a decoy hash instead,
so that names cannot be told apart by the time the answer takes (docs/web.md, "Accounts").
Each is timed ``--runs`` times, interleaved, in this process: the right password, a wrong
one, and an unknown name (the decoy).

ratio = median unknown-name check / median wrong-password check: near 1.0 means an unknown
name cannot be told from a wrong password by timing.
"""

from __future__ import annotations

import argparse
import statistics
import time

from collector.accounts import hash_password, verify_password


def _timed(stored: str | None, password: str) -> float:
    started = time.perf_counter()
    verify_password(stored, password)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    runs = parser.parse_args().runs
    stored = hash_password("a reviewer's long passphrase")
    verify_password(None, "warm the decoy up")  # the decoy is hashed once, on first use
    right, wrong, unknown = [], [], []
    for _ in range(runs):
        right.append(_timed(stored, "a reviewer's long passphrase"))
        wrong.append(_timed(stored, "a wrong guess of a password"))
        unknown.append(_timed(None, "a wrong guess of a password"))
    for name, times in (("right", right), ("wrong", wrong), ("unknown name", unknown)):
        print(f"{name:>13}: median {statistics.median(times) * 1000:7.1f} ms  "
              f"min {min(times) * 1000:7.1f} ms  max {max(times) * 1000:7.1f} ms")  # fmt: skip
    print(f"ratio={statistics.median(unknown) / statistics.median(wrong):.2f}")


if __name__ == "__main__":
    main()
