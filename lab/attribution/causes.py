"""System-level findings: what the evidence points at, each quoting its numbers and the lever.

Beside the plan findings (one statement's plan), these read the whole run:
which part of a request name's slowest requests dominates (the pool, the
database, the rest of the API, or time outside it), what the database waited
on in the worst seconds, what the server and the host did then, and whether
the generator was late. A finding is written only where its evidence holds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from lab.attribution.decompose import POWER_NAME
from lab.records import Breakdown, Cause, RequestStats, WorstSecond
from lab.verdicts import LAB_P99_MS

DOMINANT_SHARE = 0.4       # a part this large of a tail's mean latency explains it
TAIL_FLOOR_MS = 5.0        # tails faster than this need no explanation
TAIL_OVER_TYPICAL = 2.0    # ...nor tails within twice the typical request, unless they are
                           # beyond the lab target's p99 (LAB_P99_MS): a uniformly slow name
WAIT_AAS = 0.5             # sessions waiting on average in a second, to count as a cause
LAG_MS = 50.0              # a loop this late, or a GC pause this long, stalls everyone
COLD_RATIO = 3.0           # warm-up p99 this many times the measured p99: a cold start
WAL_WAITS = ("LWLock:WALWrite", "IO:WalSync", "IO:WalWrite", "LWLock:WALInsert")
SPIKE_OVER_TYPICAL = 2.0   # a second's p99 this many times the median second's: a spike
MIN_TAIL = 5               # fewer requests at or above p99: describe the p95 tail instead
TAIL_CAUSES = 5            # the slowest request names explained


WAL_LEVER = ("commits wait on WAL flushes: group commit (commit_delay), wal_compression "
             "(full-page images after a checkpoint), checkpoint spacing; durability stays on")
LOCK_LEVER = "the contended rows: shorter transactions on them, or fewer writers at once"


@dataclass(frozen=True)
class Setup:
    """What the levers are made of: the API's shape and the generator's."""

    api_workers: int
    pool_max: int
    locust_workers: int
    cpus: int | None = None


@dataclass(frozen=True)
class Busy:
    """How hard the processes outside the database worked in the window (None: not seen)."""

    locust_cpu_max: float | None = None      # Locust's busiest process, % of a core
    locust_lag_max: float | None = None      # the latest its loop woke, ms
    api_lag_max: float | None = None         # the latest an API worker's loop woke, ms
    cpu_saturated: bool = False              # the machine's CPUs were the limit (capacity)
    pool_full: bool = False                  # the pool was full of database work (capacity)


def statements_behind(request: str, statements: list[dict[str, Any]], keep: int = 2) -> str:
    """The slowest named statements (by mean execution) a request name runs, with numbers:
    the run's pg_stat_statements delta, labelled (lab.plans.statements)."""
    base = "home_timeline" if request == POWER_NAME else request
    # One statement may have several query ids (parameter types, top level or nested).
    totals: dict[tuple[str, bool], list[float]] = {}
    for row in statements:
        if base in row.get("requests", ()) and row["calls"] > 0:
            total = totals.setdefault((row["statement"], bool(row.get("nested"))), [0.0, 0.0])
            total[0] += row["calls"]
            total[1] += row["mean_exec_time"] * row["calls"]
    mine = sorted(totals.items(), key=lambda item: -item[1][1] / item[1][0])
    named = [f"{name}{' (inside)' if nested else ''} mean {spent / calls:.2f} ms over "
             f"{int(calls)} calls" for (name, nested), (calls, spent) in mine[:keep]]
    return f"; its statements: {', '.join(named)}" if named else ""


def tail_causes(rows: list[Breakdown], setup: Setup, busy: Busy,
                statements: list[dict[str, Any]] | None = None) -> list[Cause]:
    """One finding per request name whose tail is slow (the slowest few): its dominant part,
    and the lever. The p99 tail when it holds MIN_TAIL requests, else the p95 tail. Where the
    database dominates, the statements behind it are named (`statements`, labelled)."""
    found: list[Cause] = []
    for row in sorted(rows, key=lambda r: -r.tail_p99.latency_ms):
        tail, label = ((row.tail_p99, "p99") if row.tail_p99.requests >= MIN_TAIL
                       else (row.tail_p95, "p95"))
        if tail.latency_ms < TAIL_FLOOR_MS or (
                tail.latency_ms < TAIL_OVER_TYPICAL * row.typical.latency_ms
                and tail.latency_ms < LAB_P99_MS):
            continue
        if len(found) == TAIL_CAUSES:
            break
        parts = tail.parts()
        if not parts:
            found.append(Cause(kind="untimed", scope=row.name, text=f"{row.name} {label} tail "
                               f"{tail.latency_ms:.1f} ms: the API sent no Server-Timing, its "
                               "parts are unknown", lever="run with LAB_SERVER_TIMING on"))
            continue
        dominant = max(parts, key=lambda part: parts[part])
        share = parts[dominant] / tail.latency_ms if tail.latency_ms else 0.0
        if share < DOMINANT_SHARE:
            continue
        spread = ", ".join(f"{part} {ms:.1f} ms" for part, ms in parts.items())
        text = (f"{row.name} {label} tail ({tail.requests} requests, mean "
                f"{tail.latency_ms:.1f} ms, typical {row.typical.latency_ms:.1f} ms): {dominant} "
                f"{parts[dominant]:.1f} ms ({share:.0%}); {spread}")
        if dominant == "database":
            text += statements_behind(row.name, statements or [])
        found.append(Cause(kind=dominant, scope=row.name, text=text,
                           lever=lever_for(dominant, setup, busy)))
    return found


def lever_for(part: str, setup: Setup, busy: Busy) -> str:
    if part == "pool wait":
        plural = "s" if setup.pool_max != 1 else ""
        if busy.pool_full and busy.cpu_saturated:
            return (f"the pool ({setup.pool_max} connection{plural} per worker, "
                    f"{setup.api_workers} worker(s)) was full on a busy machine (the cpu and "
                    "pool findings): more API workers if one worker's loop is late, else less "
                    "database and CPU time per request; a larger pool adds sessions competing "
                    "for the same CPUs")
        return (f"the pool ({setup.pool_max} connection{plural} per worker) or the API's "
                f"worker count ({setup.api_workers}) is the bottleneck: more workers "
                "(--api-workers) or a larger pool (LAB_POOL_MAX), then measure again")
    if part == "database":
        return ("the statement's plan (Plans, Findings) and what the database waited on "
                "(below)")
    if part == "app":
        return (f"inside the API but outside the database: its CPU with {setup.api_workers} "
                "worker(s), the event loop, serializing; more workers or less work per request")
    api = (f"the API's event loop before it reached the request (up to "
           f"{busy.api_lag_max:.0f} ms late; {setup.api_workers} worker(s))"
           if busy.api_lag_max is not None else "the API's event loop before the request")
    generator = (f"Locust's busiest process at {busy.locust_cpu_max:.0f} % CPU"
                 if busy.locust_cpu_max is not None else "Locust's CPU not sampled")
    late = (f", its loop up to {busy.locust_lag_max:.0f} ms late"
            if busy.locust_lag_max is not None else "")
    return (f"outside the app: the socket and accept queue, {api}, or the generator "
            f"({generator}{late}; {setup.locust_workers or 'no'} Locust workers): "
            "--api-workers if the API's loop is late, --locust-workers if the generator's is")


def blocked_behind(locks: pd.DataFrame) -> str:
    """The most sampled lock wait: its kind, the relation and the blocking statement."""
    if locks.empty:
        return ""
    top = locks.iloc[0]
    return (f" ({top['wait_event']}) on {top['lock_relation']}, behind "
            f"«{top['blocker_query'][:120]}»")


def is_spike(second: WorstSecond) -> bool:
    """A second that stands out: its p99 well above the median second's, and not fast."""
    return (second.p99_ms >= TAIL_FLOOR_MS
            and second.p99_ms >= SPIKE_OVER_TYPICAL * second.typical_p99_ms)


def second_causes(seconds: list[WorstSecond], locks: pd.DataFrame) -> list[Cause]:
    """What coincided with each of the worst seconds that stands out, where it is large enough
    to matter; the server events coinciding with a spike are named together, each once."""
    found: list[Cause] = []
    named_events: set[str] = set()
    for s in filter(is_spike, seconds):
        where = (f"at {s.second} s (p99 {s.p99_ms:.1f} ms against {s.typical_p99_ms:.1f} ms in "
                 f"the median second, {s.requests} requests)")
        wal = sum(v for k, v in s.waits.items() if k in WAL_WAITS)
        if wal >= WAIT_AAS:
            io = f"; tasks stalled on I/O {s.io_stall_ms:.0f} ms of that second" \
                if s.io_stall_ms is not None else ""
            found.append(Cause(kind="wal", scope="run", text=f"{where}: {wal:.1f} sessions on "
                               f"average waited for the WAL to reach disk{io}",
                               lever=WAL_LEVER))
        lock = sum(v for k, v in s.waits.items() if k.startswith("Lock:"))
        if lock >= WAIT_AAS and not locks.empty:
            found.append(Cause(kind="lock", scope="run", text=f"{where}: {lock:.1f} sessions "
                               f"waited on a lock{blocked_behind(locks)}", lever=LOCK_LEVER))
        fresh = [event for event in s.events if event not in named_events]
        named_events.update(fresh)
        if fresh:
            found.append(Cause(kind="event", scope="run",
                               text=f"{'; '.join(fresh)} coincided with the spike {where}",
                               lever="the server's own work: schedule it (autovacuum and "
                                     "checkpoint settings) or warm up past it"))
        for who, lag in (("Locust", s.locust_lag_ms), ("the API", s.api_lag_ms)):
            if lag is not None and lag >= LAG_MS:
                found.append(Cause(kind="stall", scope="run", text=f"{who}'s loop woke "
                                   f"{lag:.0f} ms late {where}: that second's latencies are "
                                   f"partly {who}'s", lever="its CPU: more processes"
                                   if who == "Locust" else "the API's CPU: more workers"))
        if s.gc_ms is not None and s.gc_ms >= LAG_MS:
            found.append(Cause(kind="gc", scope="run", text=f"garbage collection paused "
                               f"processes {s.gc_ms:.0f} ms {where}", lever="fewer objects "
                               "per request, or gc.freeze() after start-up"))
    return found


def cold_start(warmup: RequestStats, measured: RequestStats, keep: int = 3) -> list[Cause]:
    """One finding when request names' warm-up was far slower than what followed it, naming
    the worst few by how much slower."""
    slower = []
    for name, cold in warmup.requests.items():
        warm = measured.requests.get(name)
        cold_p99, warm_p99 = cold.latency_ms.p99, warm.latency_ms.p99 if warm else None
        if cold_p99 and warm_p99 and cold.count >= 10 and cold_p99 >= COLD_RATIO * warm_p99:
            slower.append((cold_p99 / warm_p99, name, cold_p99, warm_p99))
    if not slower:
        return []
    slower.sort(reverse=True)
    named = ", ".join(f"{name} p99 {cold:.1f} ms against {warm:.1f} ms"
                      for _, name, cold, warm in slower[:keep])
    more = f" (and {len(slower) - keep} more names)" if len(slower) > keep else ""
    return [Cause(kind="cold start", scope="run",
                  text=f"the warm-up was far slower than what followed it: {named}{more}",
                  lever="a freshly copied database: cold caches and a filling pool; judged "
                        "apart (the measurement window excludes it)")]


def load_causes(top_waits: dict[str, float], locks: pd.DataFrame) -> list[Cause]:
    """What the database's sessions waited on over the whole window, where it is a large part
    of their load (average active sessions, from the 10 Hz sampling)."""
    active = sum(top_waits.values())
    found = []
    for kind, chosen, what, lever in (
            ("wal", [k for k in top_waits if k in WAL_WAITS], "for the WAL to reach disk",
             WAL_LEVER),
            ("lock", [k for k in top_waits if k.startswith("Lock:")], "on row or table locks",
             LOCK_LEVER)):
        waited = sum(top_waits[k] for k in chosen)
        if waited >= WAIT_AAS or (active and waited >= DOMINANT_SHARE * active
                                  and waited >= WAIT_AAS / 5):
            spread = ", ".join(f"{k} {top_waits[k]:.2f}" for k in chosen)
            detail = blocked_behind(locks) if kind == "lock" else ""
            found.append(Cause(kind=kind, scope="run", text=f"over the measurement window "
                               f"{waited:.2f} of {active:.2f} active sessions on average "
                               f"waited {what} ({spread}){detail}", lever=lever))
    return found
