"""Settings of the lab, read from `LAB_*` environment variables.

One settings object for every command, so that the CLI, the tests and later
the API and load runner agree on where the database and local state live.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

# Every database the lab creates starts with this prefix; the lab never
# creates, drops or writes any database whose name does not.
DATABASE_PREFIX = "timeline_lab"


class Settings(BaseSettings):
    """Configuration of the lab; every field maps to `LAB_<FIELD>`."""

    model_config = SettingsConfigDict(env_prefix="LAB_", extra="ignore")

    state_dir: Path = Field(Path(".lab"), description="Local state: pgdata, logs.")
    pgdata: Path | None = Field(
        None, description="Embedded data folder (default STATE_DIR/pgdata).")
    pg_port: int = Field(55432, description="TCP port of the embedded server on 127.0.0.1.")
    database_url: str | None = Field(
        None, description="Use this server instead of the embedded one (any database on it)."
    )
    db: str | None = Field(
        None, description="Where PostgreSQL comes from: embedded, url or testcontainers."
    )
    db_name: str = Field(DATABASE_PREFIX, description="The working database the lab serves.")
    container_image: str = Field("postgres:18", description="Image for --db testcontainers.")

    # The API (`lab serve`): one pool per worker process. 2 x cores is the
    # usual starting point for a pool in front of a CPU-bound database; on 2
    # cores, 8 per worker against 4 made the seed's load slower (p99 ratio
    # 1.27: more sessions on the same CPUs; docs/criteria.md).
    api_dsn: str | None = Field(None, description="Database the API serves (set by `lab serve`).")
    pool_min: int = Field(2, ge=1, description="Connections each API worker keeps open.")
    pool_max: int = Field(4, ge=1, description="Most connections per API worker.")
    pool_timeout_s: float = Field(
        2.0, gt=0, description="Wait for a free connection this long, then answer 503.")
    pool_check: bool = Field(
        False, description="Test each connection before lending it: a database restart then "
                           "fails no request, but every request pays one more round trip "
                           "(measured: -35 % on the push timeline). Off: a restart costs at "
                           "most one 503 per pooled connection.")
    observe_dir: Path | None = Field(
        None, description="Where each API worker writes its loop lag and GC pauses per "
                          "second (set by `lab run` to the run folder).")
    server_timing: bool = Field(
        True, description="Time each request's pool wait, database round trips and whole "
                          "handling, and return them in a Server-Timing header.")
    gc_freeze: bool = Field(
        True, description="Each API worker freezes what its start-up built (gc.freeze), so the "
                          "collector's full passes skip it.")
    body_timeout_s: float = Field(
        10.0, gt=0, description="A request body must arrive within this long, else 408 and the "
                                "connection closed (slow clients cannot hold the server).")
    token_ttl_s: int = Field(
        30 * 24 * 3600, ge=60, description="A bearer token expires this long after it is "
                                           "issued (POST /me/token exchanges it for a new one).")
    token_cache_s: float = Field(
        10.0, ge=0, description="Each API worker trusts a token it checked for this long: a "
                                "token revoked on another worker stops within it.")
    cursor_key: str = Field(
        "", pattern=r"^([0-9a-fA-F]{64})?$", repr=False,
        description="The key sealing page cursors that continue past hidden tweets (64 hex "
                    "digits); `lab serve` draws one per start when unset.")
    head_timeout_s: float = Field(
        10.0, gt=0, description="A request head must arrive within this long of its first byte "
                                "(else 408), and a new connection must start one within it "
                                "(else it is closed).")
    statement_timeout_ms: int = Field(
        10_000, ge=100, description="Cancel a statement after this long (answered as 503).")
    timeline_strategy: Literal["pull", "push", "hybrid"] = Field(
        "pull", description="Home timelines: pull (fan-out on read), push (fan-out on write), "
                            "hybrid (push, but celebrities are pulled and merged at read time).")
    timeline_cap: int = Field(800, ge=1, description="Most entries a follow backfills (push).")
    fanout: Literal["inline", "queue"] = Field(
        "inline", description="Push/hybrid delivery: in the posting transaction (inline) or by "
                              "a background worker draining a queue (queue).")
    celebrity_followers: int = Field(
        10_000, ge=1, description="Hybrid: authors with more followers are pulled, not pushed.")
    max_following: int = Field(
        5_000, ge=1, description="Most accounts a user may follow or have asked to follow "
                                 "(bounds each pull page and each push backfill).")
    max_pending_requests: int = Field(
        100, ge=1, description="Most follow requests waiting for one account (going public "
                               "approves them all in one transaction).")

    def timeline_session(self, strategy: str | None = None) -> dict[str, str]:
        """The custom settings the timeline SQL functions read (migration 0004), as every
        API connection and every plan capture sets them: how and whether to keep
        home_timeline is a property of the serving process."""
        return {"lab.timeline_strategy": strategy or self.timeline_strategy,
                "lab.timeline_cap": str(self.timeline_cap), "lab.fanout": self.fanout,
                "lab.celebrity_followers": str(self.celebrity_followers),
                "lab.max_following": str(self.max_following),
                "lab.max_pending_requests": str(self.max_pending_requests)}

    @property
    def embedded_pgdata(self) -> Path:
        """Return the absolute embedded data folder."""
        return (self.pgdata or self.state_dir / "pgdata").resolve()


def default_api_workers() -> int:
    """One uvicorn worker per CPU: a worker is one Python thread running one event loop, and
    every request's awaits queue on that loop. Measured on 2 cores (mixed, 1000 users, push,
    small, after migration 0009): one worker p50 419 ms with its loop the bottleneck, two
    workers p50 18 ms at the same pool size per worker. At the seed's lighter human pace
    (three paired 70 s runs) two workers halved the p99 (median ratio 0.57) for a p95 14 %
    higher: docs/criteria.md."""
    return max(1, os.cpu_count() or 1)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Return the process-wide settings (read once from the environment)."""
    return Settings()
