"""The home-timeline caches across strategies: rebuilt when the strategy about to serve
would read them stale.

Pull never maintains home_timeline, and push does not pull the authors hybrid
marked as pulled, so a database served under pull (or under hybrid, then
push) holds caches that miss tweets and follows. `lab serve` calls
`prepare_caches` before the API starts: the database records which strategy
served it last (schema/migrations/0012), and a stale cache is rebuilt whole,
as fan-out on write would have filled it, before the first request.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import psycopg

from lab.progress import Say


@dataclass(frozen=True)
class Rebuilt:
    stale_after: str      # the strategy whose writes left the caches stale
    rows: int
    seconds: float


def prepare_caches(conn: psycopg.Connection, strategy: str, cap: int,
                   say: Say) -> Rebuilt | None:
    """Record that `strategy` serves `conn`'s database now; rebuild the caches first when
    they are stale for it. Runs in one transaction: a failed rebuild leaves them as they
    were, and still stale."""
    with conn.transaction():
        row = conn.execute("SELECT begin_serving(%s)", (strategy,)).fetchone()
        stale_after = row[0] if row else None
        if stale_after is None:
            return None
        say(f"home timeline caches are stale for {strategy} (last served under "
            f"{stale_after}): rebuilding them, the newest {cap} entries per user ...")
        started = time.perf_counter()
        rebuilt = conn.execute("SELECT rebuild_home_timelines(%s, %s)",
                               (cap, strategy)).fetchone()
    done = Rebuilt(stale_after, int(rebuilt[0]) if rebuilt else 0,
                   time.perf_counter() - started)
    say(f"rebuilt {done.rows:,} cache entries in {done.seconds:.1f} s")
    return done
