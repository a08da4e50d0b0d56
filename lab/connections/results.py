"""One measured level of the connection experiment: a path, a mode, a client count."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from lab.percentiles import latency_summary

MEASURED, STOPPED = "measured", "stopped"


@dataclass
class LevelResult:
    path: str
    mode: str
    clients: int
    round: int = 0                         # levels repeat in interleaved rounds
    status: str = MEASURED
    duration_s: float = 0.0
    requests: int = 0                      # successful requests in the measured window
    throughput_per_s: float = 0.0
    latency_ms: dict[str, float | None] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)
    connect_ms: dict[str, float | None] = field(default_factory=dict)   # p50, max
    first_request_ms: dict[str, float | None] = field(default_factory=dict)  # a new session's
    backends_max: int | None = None        # client backends on the server, all databases
    server_rss_mb: float | None = None     # postgres processes: RSS counts shared pages each
    server_pss_mb: float | None = None     # time, PSS shares them out (the honest total)
    client_cpu_percent: float | None = None   # the load generator, % of one core
    client_lag_ms: dict[str, float | None] = field(default_factory=dict)  # paced: its loop lag
    machine_busy_percent: float | None = None  # paced: this machine's CPUs busy, % of them all
    # paced, api path: the API's own account (Server-Timing) of app, pool, db: p50 and p95 ms
    server_timing_ms: dict[str, dict[str, float | None]] = field(default_factory=dict)
    tool: str = ""
    note: str = ""
    latency_withheld: str = ""             # why latency_ms is empty though requests were timed

    @property
    def p95_ms(self) -> float | None:
        return self.latency_ms.get("p95")

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def with_latencies(result: LevelResult, latency_us: np.ndarray, seconds: float) -> LevelResult:
    """Fill throughput and exact percentiles from every successful request's latency."""
    result.duration_s = round(seconds, 3)
    result.requests = int(len(latency_us))
    result.throughput_per_s = round(len(latency_us) / seconds, 2) if seconds > 0 else 0.0
    summary = latency_summary(latency_us)
    result.latency_ms = {key: summary[key] for key in ("p50", "p95", "p99", "max")}
    return result


def connect_summary(times_ms: list[float]) -> dict[str, float | None]:
    """Median and worst of per-session times (connecting, or the first request)."""
    if not times_ms:
        return {"p50": None, "max": None}
    return {"p50": round(float(np.median(times_ms)), 2), "max": round(max(times_ms), 2)}
