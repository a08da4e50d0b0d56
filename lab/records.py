"""The sections of a run folder's summary, as typed records (lab.runfolder's Summary holds them).

Each section is a model with nothing but its fields; the writer builds them,
every reader gets them back typed. Measuring code constructs these directly
(request statistics, the ledger, fault outcomes, the attribution).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Record(BaseModel):
    """A section of summary.json: typed, and nothing but its fields."""

    model_config = ConfigDict(extra="forbid")


class Latency(Record):
    """Exact nearest-rank percentiles of successful requests, in ms (None: no samples)."""

    p50: float | None
    p90: float | None
    p95: float | None
    p99: float | None
    p99_9: float | None
    mean: float | None
    max: float | None


class GroupStats(Record):
    count: int
    failures: int
    rps: float | None
    latency_ms: Latency           # service time: from the request's send to its answer
    bytes_mean: float | None
    # Paced requests (sent on a schedule) timed from their due time instead, the wait behind
    # the schedule included (coordinated omission corrected); None when none was paced.
    paced: int = 0
    from_schedule_ms: Latency | None = None


class Window(Record):
    """A span of the run in epoch seconds."""

    start_ts: float
    end_ts: float
    seconds: float


class Windows(Record):
    """The spans of a run. The warm-up (the spawn ramp, then a settling time) gets its own
    numbers; the latency criteria judge the measurement window that follows it."""

    run: Window                # first request sent to last response received
    ramp_end_ts: float         # every user of the first stage spawned
    warmup: Window             # the run's start to the measurement window's
    measurement: Window        # what the latency criteria judge


class FailureCount(Record):
    name: str
    reason: str
    count: int


class RequestStats(Record):
    window: Window
    total: GroupStats
    requests: dict[str, GroupStats]
    home_timeline_by_follow_bucket: dict[str, GroupStats]
    failures: list[FailureCount]


class ScenarioInfo(Record):
    name: str
    description: str
    criteria: list[str]                    # the criteria in scope
    scheduled_rate_per_s: float | None     # what the paced personas should send


class GitState(Record):
    commit: str | None
    dirty: bool | None


class Machine(Record):
    hostname: str
    platform: str
    python: str
    cpus: int | None
    memory_gb: float


class PostgresInfo(Record):
    url: str
    database: str
    settings: dict[str, str]
    pg_stat_statements: str                # "available", or why not


class ApiInfo(Record):
    """The API's shape in the run: what its pool and workers were."""

    workers: int
    pool_min: int
    pool_max: int
    pool_timeout_s: float
    server_timing: bool
    gc_freeze: bool = True     # (folders written before it had no freeze)


class Environment(Record):
    lab_version: str
    git: GitState
    machine: Machine
    postgres: PostgresInfo
    api: ApiInfo


class Dataset(Record):
    scale: str | None
    seed: int | None
    rows: dict[str, int]
    timeline_cap: int | None
    power_readers: int
    fresh_copy_s: float


class LocustTotals(Record):
    requests: int
    failures: int


class LocustInfo(Record):
    argv: list[str]
    exit_code: int | None                  # None: a test of a `lab ui` session
    totals: LocustTotals | None            # Locust's own count (its --json-file)


class SamplesInfo(Record):
    rows: int
    workers: list[str]
    unfinished_workers: list[str]          # wrote chunks but no .done marker


class SamplingInfo(Record):
    samples: int
    errors: list[str]


class Ledger(Record):
    """Acknowledged writes held against the database after the run."""

    acknowledged: int          # creates answered 201 with an id
    deleted_by_clients: int    # of those, deleted later by a 204
    found: int
    lost: int                  # acknowledged, not deleted, not in the database
    lost_ids: list[int]        # a sample, to look them up
    unacknowledged_landed: int  # rows the run wrote that no client was told about
    duplicated: int            # post bodies written more than once


class VisibilityLag(Record):
    """From a probe author's 201 to a watcher's home timeline showing the tweet, for the
    posts acknowledged in the measurement window (lab.load.visibility)."""

    strategy: str
    fanout: str                   # inline or queue (push and hybrid; pull reads at read time)
    posts: int
    unseen: int                   # not seen within the limit
    at_first_read: int            # seen at the first read: lag 0
    p50_ms: float | None
    p99_ms: float | None
    max_ms: float | None
    by_author: dict[int, dict[str, float | int | None]]   # author's followers -> numbers
    errors: list[str]


class FaultOutcome(Record):
    """One injected fault and what the clients saw of it."""

    kind: str
    label: str
    injected_ts: float | None
    restored_ts: float | None
    detail: str
    error: str | None                      # the injector failed: not injected
    errors: int | None                     # outage errors clients got
    statuses: dict[str, int] = {}
    outage_s: float | None
    recover_s: float | None                # last error's end after the fault's end
    first_error_ts: float | None = None
    last_error_end_ts: float | None = None
    answered_503: int = 0


class Components(Record):
    """Where a group of requests spent its time, in mean ms per request: outside the app
    (client: sockets, queueing, the generator), waiting for a pooled connection, in the
    database, in the rest of the app. None where the API sent no Server-Timing."""

    requests: int
    latency_ms: float
    client_ms: float | None
    pool_ms: float | None
    db_ms: float | None
    app_ms: float | None

    def parts(self) -> dict[str, float]:
        return {part: value for part, value in (("client", self.client_ms),
                ("pool wait", self.pool_ms), ("database", self.db_ms), ("app", self.app_ms))
                if value is not None}

    @property
    def dominant(self) -> str | None:
        parts = self.parts()
        return max(parts, key=lambda part: parts[part]) if parts else None


class Breakdown(Record):
    """One request name's time, typical and in its tails (the measurement window)."""

    name: str
    requests: int              # its successful requests in the measurement window
    typical: Components        # requests between p25 and p75
    tail_p95: Components       # requests at or above p95
    tail_p99: Components       # requests at or above p99
    timed_share: float         # requests that carried the API's Server-Timing


class WorstSecond(Record):
    """One of the seconds with the highest p99, and what coincided with it."""

    second: int                          # seconds since the first request
    p99_ms: float
    typical_p99_ms: float                # the median second's p99 in the same window
    requests: int
    tail: Components                     # that second's requests at or above its p95
    waits: dict[str, float]              # database load by wait event (average sessions)
    io_stall_ms: float | None            # tasks stalled on I/O in that second (pressure)
    cpu_stall_ms: float | None
    api_lag_ms: float | None             # the API's event loop, the worst late wake-up
    locust_lag_ms: float | None          # the load generator's loop
    gc_ms: float | None                  # garbage-collection pauses, all processes
    events: list[str]


class Cause(Record):
    """A system-level finding: what the evidence points at, with its numbers, and the lever."""

    kind: str
    scope: str                 # a request name, or "run"
    text: str
    lever: str


class Attribution(Record):
    """Where the time went: the decomposition, the worst seconds, the causes found."""

    breakdown: list[Breakdown]
    worst_seconds: list[WorstSecond]
    causes: list[Cause]
    top_waits: dict[str, float]          # average active sessions by wait event, whole window
    wait_sampling: dict[str, Any]        # what sampling the sessions cost
    unavailable: dict[str, str]          # signals this server or host did not offer
    # CPU per request of the measurement window, ms, by process group (postgres, api,
    # api_remote, locust): the sampler's average CPU over the requests sent per second.
    cpu_ms_per_request: dict[str, float] = Field(default_factory=dict)
