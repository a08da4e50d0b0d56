"""Faults injected into a load run, and what the clients saw of each.

`lab run --fault KIND[@START][+HOLD]` breaks the database under the API
START seconds into the load, for HOLD seconds:

- restart-db      the embedded PostgreSQL stopped (fast: sessions cut) and
                  started again; only a server the lab started may be restarted
- kill-backends   every session on the run database terminated at once
- pool-exhaust    an exclusive lock on `users` that every request waits
                  behind, so the pool runs dry and requests time out
- lock-row        a row lock (FOR UPDATE) on the hot row, the viral tweet:
                  its likes and retweets queue behind it for HOLD seconds

During the outage the API should answer 503 with Retry-After, and recover
by itself once the fault is over. `outage_seen` measures that from the
recorded requests: when clients started and stopped getting errors, and how
long after the fault's end the last error came.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

import pandas as pd

from lab.config import Settings
from lab.errors import LabError
from lab.load.measurements import Reliability
from lab.pg.server import PgServer
from lab.progress import Say
from lab.records import FaultOutcome
from lab.runconfig import FAULT_KINDS, FaultSpec

LOCK_WAIT_S = 10           # pool-exhaust: most time to wait for the lock itself
# START counts from the load's first moment; Locust takes a second or two to boot before it.
LOAD_START_WAIT_S = 60.0
# Errors this long after a fault's end still count as its outage (and against recovery).
ATTRIBUTION_S = 60.0


def check_fault_source(specs: tuple[FaultSpec, ...], server_kind: str) -> None:
    """Refuse a fault the run cannot inject on this server, before the load starts."""
    if server_kind != "embedded" and any(spec.kind == "restart-db" for spec in specs):
        raise LabError("--fault restart-db restarts the embedded PostgreSQL only: the lab "
                       "does not stop a server it did not start (use --db embedded)")


@dataclass
class FaultEvent:
    """One injected fault: when it began and ended (epoch seconds) and what it did."""

    kind: str
    label: str
    injected_ts: float | None = None
    restored_ts: float | None = None
    detail: str = ""
    error: str | None = None


class FaultInjector(threading.Thread):
    """Inject each fault at its time after the load began; the run joins it before judging.

    `load_begun` tells when the load has begun (Locust's test started); START counts from
    then, the origin of the run's seconds, not from Locust's launch.
    """

    def __init__(self, specs: tuple[FaultSpec, ...], server: PgServer, database: str,
                 settings: Settings, say: Say, hot_tweet: int | None = None,
                 load_begun: Callable[[], bool] = lambda: True) -> None:
        super().__init__(name="fault-injector", daemon=True)
        self.specs = sorted(specs, key=lambda s: s.start_s)
        self.server, self.database, self.settings, self.say = server, database, settings, say
        self.hot_tweet, self.load_begun = hot_tweet, load_begun
        self.events = [FaultEvent(s.kind, s.label) for s in self.specs]
        self._stop_event = threading.Event()

    def stop(self) -> list[FaultEvent]:
        self._stop_event.set()
        self.join(timeout=120)
        return self.events

    def run(self) -> None:
        if not self.specs:
            return
        waited_until = time.monotonic() + LOAD_START_WAIT_S
        while not self.load_begun() and time.monotonic() < waited_until:
            if self._stop_event.wait(0.05):
                return
        started = time.monotonic()
        for spec, event in zip(self.specs, self.events, strict=True):
            if self._stop_event.wait(max(0.0, spec.start_s - (time.monotonic() - started))):
                return
            self.say(f"  fault {spec.label}: {FAULT_KINDS[spec.kind]}")
            try:
                INJECT[spec.kind](self, spec, event)
            except Exception as exc:  # noqa: BLE001 - reported with the run, never fatal
                event.error = f"{type(exc).__name__}: {exc}"
            event.restored_ts = event.restored_ts or time.time()
            self.say(f"  fault {spec.label} over: {event.detail or event.error}")

    def restart_db(self, spec: FaultSpec, event: FaultEvent) -> None:
        from lab.pg.embedded import EmbeddedPostgres

        embedded = EmbeddedPostgres(self.settings.embedded_pgdata, self.settings.pg_port)
        event.injected_ts = time.time()
        embedded.stop()
        down = time.time()
        self._stop_event.wait(spec.hold_s)
        embedded.start()
        event.restored_ts = time.time()
        event.detail = (f"down {down - event.injected_ts:.1f} s to stop, "
                        f"{event.restored_ts - down:.1f} s until it accepted connections again")

    def kill_backends(self, spec: FaultSpec, event: FaultEvent) -> None:
        with self.server.connect(self.database, autocommit=True) as conn:
            event.injected_ts = time.time()
            row = conn.execute(
                "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid() "
                "AND backend_type = 'client backend'").fetchone()
        self._stop_event.wait(spec.hold_s)
        event.restored_ts = time.time()
        event.detail = f"{row[0] if row else 0} sessions terminated"

    def pool_exhaust(self, spec: FaultSpec, event: FaultEvent) -> None:
        with self.server.connect(self.database) as conn:
            conn.execute(f"SET lock_timeout = '{LOCK_WAIT_S}s'")
            conn.execute("LOCK TABLE users IN ACCESS EXCLUSIVE MODE")
            event.injected_ts = time.time()
            self._stop_event.wait(spec.hold_s)
            conn.rollback()
            event.restored_ts = time.time()
        event.detail = f"users locked for {event.restored_ts - event.injected_ts:.1f} s"

    def lock_row(self, spec: FaultSpec, event: FaultEvent) -> None:
        if self.hot_tweet is None:
            raise LabError("lock-row needs the run's hot row (the viral tweet)")
        with self.server.connect(self.database) as conn:
            conn.execute(f"SET lock_timeout = '{LOCK_WAIT_S}s'")
            conn.execute("SELECT id FROM tweets WHERE id = %s FOR UPDATE", (self.hot_tweet,))
            event.injected_ts = time.time()
            self._stop_event.wait(spec.hold_s)
            conn.rollback()
            event.restored_ts = time.time()
        event.detail = (f"tweet {self.hot_tweet} locked for "
                        f"{event.restored_ts - event.injected_ts:.1f} s")


INJECT: dict[str, Callable[[FaultInjector, FaultSpec, FaultEvent], None]] = {
    "restart-db": FaultInjector.restart_db,
    "kill-backends": FaultInjector.kill_backends,
    "pool-exhaust": FaultInjector.pool_exhaust,
    "lock-row": FaultInjector.lock_row,
}


def is_outage_error(samples: pd.DataFrame) -> pd.Series:
    """Requests that got no answer or a 5xx: what an outage looks like to a client."""
    return (samples["status"] == 0) | (samples["status"] >= 500)


def outages_seen(events: list[FaultEvent], samples: pd.DataFrame) -> list[FaultOutcome]:
    """What clients saw of each fault. Each failed request belongs to one fault at most: the
    last one injected before it ended (in flight at an injection, it is that fault's), if it
    was sent before ATTRIBUTION_S after that fault's end. (A request in flight across two
    injections was counted by both, so two faults read as one long outage and their 503s
    were excused twice.)"""
    failed = samples[is_outage_error(samples)]
    ends = failed["start_ts"] + failed["latency_us"] / 1e6
    injected = [(i, e.injected_ts) for i, e in enumerate(events)
                if e.injected_ts is not None and e.restored_ts is not None]
    owner = pd.Series(-1, index=failed.index)
    for i, ts in sorted(injected, key=lambda pair: pair[1]):
        owner[ends >= ts] = i            # a later injection takes over what ended after it
    outcomes = []
    for i, event in enumerate(events):
        mine = failed[owner == i]
        if event.restored_ts is not None:
            mine = mine[mine["start_ts"] < event.restored_ts + ATTRIBUTION_S]
        outcomes.append(outage_seen(event, mine))
    return outcomes


def outage_seen(event: FaultEvent, failed: pd.DataFrame) -> FaultOutcome:
    """What clients saw of one fault, from the failed requests that are its own.

    The outage is the span from the first of them sent to the end of the last;
    recovery is how long after the fault's end that last failure ended.
    """
    seen = asdict(event)
    if event.injected_ts is None or event.restored_ts is None:
        return FaultOutcome(**seen, errors=None, outage_s=None, recover_s=None)
    ends = failed["start_ts"] + failed["latency_us"] / 1e6
    statuses = {str(k): int(v) for k, v in failed["status"].value_counts().sort_index().items()}
    if failed.empty:
        return FaultOutcome(**seen, errors=0, outage_s=0.0, recover_s=0.0)
    first = float(failed["start_ts"].min())
    last_end = float(ends[failed.index].max())
    return FaultOutcome(**seen, errors=len(failed), statuses=statuses,
                        outage_s=round(last_end - first, 3),
                        recover_s=round(max(0.0, last_end - event.restored_ts), 3),
                        first_error_ts=first, last_error_end_ts=last_end,
                        answered_503=int((failed["status"] == 503).sum()))


def outage_windows(outages: list[FaultOutcome], slack_s: float) -> list[tuple[float, float]]:
    """Epoch spans from each fault's injection to `slack_s` after its end: paced actions
    that fell behind their schedule then were held by the fault, not by the generator."""
    return [(o.injected_ts, o.restored_ts + slack_s) for o in outages
            if o.injected_ts is not None and o.restored_ts is not None]


def excused_failures(outages: list[FaultOutcome]) -> int:
    """503s inside a fault's window: the answer the API owes clients then, not a defect."""
    return sum(o.answered_503 for o in outages)


def reliability(acknowledged: int, lost: int, duplicated: int,
                outages: list[FaultOutcome]) -> Reliability:
    """What R judges: the ledger's outcome and how each fault was survived."""
    recovered = [o.recover_s for o in outages if o.recover_s is not None]
    return Reliability(acknowledged, lost, duplicated, len(outages),
                       sum(o.injected_ts is None or o.error is not None for o in outages),
                       max(recovered, default=None))
