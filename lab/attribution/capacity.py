"""Whether the machine and the pool had room: the context every tail is read in.

A pool wait says requests queued for a connection, not why the connections
were busy. Little's law answers that: the time every request in the window
held its connection (its time in the API after the pool wait), divided by the
window, is how many pooled connections were held on average; the database
time of the same requests says how much of that was the database's. Beside
it, the host: how busy its CPUs were (the CPU of PostgreSQL, the API and
Locust, sampled every 2 s) and how much of the time some task was runnable
but waited for a CPU (/proc/pressure/cpu). On a saturated machine every part
of a request waits for a core, the database's included: more processes help
one busy single-threaded loop (an API worker, a Locust process), not a machine
without idle CPU.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from lab.records import Cause, Window
from lab.targets import REMOTE_API

CPU_BUSY_SHARE = 0.8       # the CPUs this busy on average: the machine is the limit
CPU_WAIT_SHARE = 0.3       # ...or some task waited for a CPU this share of the time
POOL_BUSY_SHARE = 0.7      # the pool's connections this busy in the database: it is full
GROUPS = (("postgres", "PostgreSQL"), ("api", "the API"), ("locust", "Locust"))
CPU_LABELS = {**dict(GROUPS), REMOTE_API: "the API (its /stats)"}


def cpu_per_request_text(per_request: dict[str, float]) -> str:
    """'PostgreSQL 1.02 ms · the API 1.10 ms · Locust 0.95 ms' ('' when nothing sampled)."""
    return " · ".join(f"{CPU_LABELS.get(group, group)} {ms:,.2f} ms"
                      for group, ms in per_request.items())


@dataclass(frozen=True)
class Capacity:
    """The window's averages (None: not sampled)."""

    cpus: int | None
    cpu_percent: dict[str, float]          # process group -> % of one core
    cpu_wait_share: float | None           # share of the time some task waited for a CPU
    pool_busy: float | None                # connections held, on average
    pool_db: float | None                  # ...of which busy in the database
    pool_size: int                         # pooled connections, all API workers together
    requests_per_s: float | None = None    # requests sent in the window, per second
    remote_cpu_percent: dict[str, float] = field(default_factory=dict)   # other machines

    def cpu_ms_per_request(self) -> dict[str, float]:
        """CPU each group spent per request of the window, in ms: the average share of a
        core it used over the requests sent per second (this machine's groups and a
        target's own account)."""
        if not self.requests_per_s:
            return {}
        used = {**self.cpu_percent, **self.remote_cpu_percent}
        return {group: round(percent / 100 / self.requests_per_s * 1000, 3)
                for group, percent in used.items()}

    @property
    def cpu_busy_share(self) -> float | None:
        if not self.cpus or not self.cpu_percent:
            return None
        return sum(self.cpu_percent.values()) / (100 * self.cpus)

    @property
    def saturated(self) -> bool:
        busy, waited = self.cpu_busy_share, self.cpu_wait_share
        return bool((busy is not None and busy >= CPU_BUSY_SHARE)
                    or (waited is not None and waited >= CPU_WAIT_SHARE))

    @property
    def pool_full(self) -> bool:
        return self.pool_busy is not None and self.pool_busy >= POOL_BUSY_SHARE * self.pool_size


def capacity(measured: pd.DataFrame, server: pd.DataFrame, window: Window, cpus: int | None,
             pool_size: int) -> Capacity:
    """The averages over the window, from the samples sent in it and the 2 s server rows."""
    rows = (server[(server["ts"] >= window.start_ts) & (server["ts"] <= window.end_ts)]
            if not server.empty else server)
    cpu: dict[str, float] = {}
    remote: dict[str, float] = {}
    for group in [g for g, _ in GROUPS] + [REMOTE_API]:
        column = f"{group}_cpu_percent"
        if column in rows and rows[column].notna().any():
            (remote if group == REMOTE_API else cpu)[group] = float(rows[column].mean())
    waited = None
    if "pressure_cpu_some_us" in rows:
        spans = rows[["ts", "pressure_cpu_some_us"]].dropna().sort_values("ts")
        if len(spans) >= 2:
            seconds = float(spans["ts"].iloc[-1] - spans["ts"].iloc[0])
            grown = float(spans["pressure_cpu_some_us"].iloc[-1]
                          - spans["pressure_cpu_some_us"].iloc[0]) / 1e6
            waited = grown / seconds if seconds > 0 else None
    held = db = None
    if "server_db_us" in measured and window.seconds > 0:
        timed = measured.dropna(subset=["server_app_us", "server_pool_us", "server_db_us"])
        if len(timed):
            held = float((timed["server_app_us"] - timed["server_pool_us"]).sum()) / 1e6 \
                / window.seconds
            db = float(timed["server_db_us"].sum()) / 1e6 / window.seconds
    rate = len(measured) / window.seconds if window.seconds > 0 else None
    return Capacity(cpus, cpu, waited, held, db, pool_size, rate, remote)


def capacity_causes(room: Capacity) -> list[Cause]:
    """A finding for a saturated machine and one for a pool full of database work."""
    found = []
    if room.saturated:
        groups = ", ".join(f"{label} {room.cpu_percent[g]:.0f} %" for g, label in GROUPS
                           if g in room.cpu_percent)
        busy = room.cpu_busy_share
        share = f"{busy:.0%} busy" if busy is not None else "busy"
        waited = (f"; some task waited for a CPU {room.cpu_wait_share:.0%} of the time"
                  if room.cpu_wait_share is not None else "")
        found.append(Cause(
            kind="cpu", scope="run",
            text=f"the machine's {room.cpus} CPUs were {share} over the measurement window "
                 f"({groups} of one core){waited}: every part of a request waits for a core, "
                 "the database's included",
            lever="less CPU per request: the statements with the most total time (Database), "
                  "the API's and the generator's work per request; more processes help a "
                  "single busy loop (an API worker, a Locust process), not a machine without "
                  "idle CPU"))
    if room.pool_full and room.pool_busy is not None and room.pool_db is not None:
        found.append(Cause(
            kind="pool", scope="run",
            text=f"the API's {room.pool_size} pooled connections were held {room.pool_busy:.1f} "
                 f"at a time on average ({room.pool_busy / room.pool_size:.0%}; Little's law "
                 f"over every request's time after its pool wait), {room.pool_db:.1f} of them "
                 "busy in the database: requests queue for a connection whenever a request "
                 "holding one slows",
            lever=("shorter time holding a connection (the database's, and the API's loop "
                   "returning to the request); with the CPUs saturated a larger pool adds "
                   "sessions competing for them" if room.saturated else
                   "a larger pool (LAB_POOL_MAX) or more API workers, while the machine has "
                   "CPU to spare; or shorter database time per request")))
    return found
