"""The web app's Prometheus metrics: requests by route and status, latency, decisions, runs.

Every label value comes from a fixed set, whatever a client sends: a route is a route's name
(``other`` when none matched), a method one of :data:`METHODS` or ``other``, a status a
standard HTTP status code or ``other``. Each distinct label set is a series kept for the
process's life, so a value taken from the request would let anyone grow them without bound.
"""

from __future__ import annotations

import threading
from collections import Counter
from http import HTTPStatus

from contract.metrics import MetricWriter

__all__ = ["METHODS", "OTHER", "WebMetrics"]

#: The methods counted by name; any other is counted as :data:`OTHER`.
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
#: The label value of whatever is not in a label's fixed set.
OTHER = "other"
_STATUSES = frozenset(status.value for status in HTTPStatus)


def _labels(**values: str) -> str:
    inner = ",".join(
        f'{name}="{value.replace(chr(92), chr(92) * 2).replace(chr(34), chr(92) + chr(34))}"'
        for name, value in values.items()
    )
    return "{" + inner + "}"


class WebMetrics:
    """Counters the app updates per request; :meth:`render` gives Prometheus text format."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests: Counter[tuple[str, str, str]] = Counter()
        self.latency_sum_s: dict[str, float] = {}
        self.latency_count: Counter[str] = Counter()
        self.auth_failures: Counter[str] = Counter()
        self.decisions: Counter[str] = Counter()
        self.evidence_runs: Counter[str] = Counter()

    def observe(self, route: str, method: str, status: int, seconds: float) -> None:
        """Count one answered request (``route`` is the route's name, never the raw path)."""
        method_label = method if method in METHODS else OTHER
        status_label = str(status) if status in _STATUSES else OTHER
        with self._lock:
            self.requests[(route, method_label, status_label)] += 1
            self.latency_sum_s[route] = self.latency_sum_s.get(route, 0.0) + seconds
            self.latency_count[route] += 1

    def count(self, counter: Counter[str], key: str) -> None:
        """Add one to ``counter[key]`` under the lock."""
        with self._lock:
            counter[key] += 1

    def render(self) -> str:
        """Every metric in Prometheus text format 0.0.4."""
        lines: list[str] = []
        metric = MetricWriter(lines)
        with self._lock:
            metric(
                "rv_web_requests_total",
                "counter",
                "Requests answered, by route and status.",
                [
                    (_labels(route=r, method=m, status=s), float(n))
                    for (r, m, s), n in sorted(self.requests.items())
                ],
            )
            metric(
                "rv_web_request_seconds",
                "summary",
                "Time to answer, by route.",
                [(f"_sum{_labels(route=r)}", v) for r, v in sorted(self.latency_sum_s.items())]
                + [
                    (f"_count{_labels(route=r)}", float(v))
                    for r, v in sorted(self.latency_count.items())
                ],
            )
            metric(
                "rv_web_auth_failures_total",
                "counter",
                "Requests refused for a missing or bad credential, by reason.",
                [(_labels(reason=k), float(v)) for k, v in sorted(self.auth_failures.items())],
            )
            metric(
                "rv_web_decisions_total",
                "counter",
                "Review decisions recorded, by outcome.",
                [(_labels(outcome=k), float(v)) for k, v in sorted(self.decisions.items())],
            )
            metric(
                "rv_web_evidence_runs_total",
                "counter",
                "Evidence runs, by result.",
                [(_labels(result=k), float(v)) for k, v in sorted(self.evidence_runs.items())],
            )
        return "\n".join(lines) + "\n"
