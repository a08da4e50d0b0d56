"""What every client of the connection experiment asks for, the same on every path.

Each request is for a random seeded user: the profile statement, the home timeline
statement of the server's strategy, or a mix. The database paths run the exact SQL of
lab/queries.sql; the API path calls the endpoint that serves that SQL. Every seeded
user gets a token `conn-<id>` so the API path can read any user's own timeline.

Where some caches are closed (medium and large keep a quarter), timelines are read for
readers whose cache is open: a closed cache's first read opens it, a write of 200 rows,
or pulls when the open slots are busy, so its cost would change with the level's rate
and every level would leave the data changed for the next. SC3 leaves those cold reads
out for the same reason; the load measures them as `home_timeline_cold`.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

import psycopg

from lab.errors import LabError
from lab.generators import pgbench_sql
from lab.httpload import render_get
from lab.queries import first_page, query
from lab.runconfig import WORKLOAD_QUERIES

MIXED_PROFILE_SHARE = 0.7     # mixed: 7 profile reads for 3 home timelines
PAGE = 50
TOKEN_PREFIX = "conn-"
READERS_TABLE = "conn_readers"   # k -> reader, for pgbench's scripts (run databases only)


@dataclass(frozen=True)
class Request:
    """One request, as the database paths and the API path each send it."""

    statement: str
    params: dict[str, Any]
    http_path: str
    token: str | None


@dataclass(frozen=True)
class Workload:
    query: str
    strategy: str
    users: int        # seeded users are ids 1..users
    readers: tuple[int, ...] = ()   # timeline readers, when not every seeded user (open_readers)

    def __post_init__(self) -> None:
        if self.query not in WORKLOAD_QUERIES:
            raise LabError(f"--query {self.query!r}: use one of {', '.join(WORKLOAD_QUERIES)}")

    def pick(self, rng: random.Random) -> Request:
        """A request for a random seeded user, of the kind the workload mixes."""
        user = rng.randint(1, self.users)
        kind = self.query
        if kind == "mixed":
            kind = "profile" if rng.random() < MIXED_PROFILE_SHARE else "home_timeline"
        if kind == "profile":
            return Request("profile", {"user_id": user}, f"/users/{user}", None)
        if self.readers:
            user = self.readers[rng.randrange(len(self.readers))]
        params = {**first_page(PAGE), "user_id": user}
        return Request(f"home_timeline_{self.strategy}", params, f"/timeline/home?limit={PAGE}",
                       f"{TOKEN_PREFIX}{user}")

    def sql(self, request: Request) -> str:
        return query(request.statement)

    def pgbench_scripts(self) -> list[tuple[str, int]]:
        """pgbench scripts and their weights: the same statements, a random user (a random
        reader, for timelines) each time."""
        def script(statement: str, pick: str) -> str:
            return pick + pgbench_sql(statement, {**first_page(PAGE), "user_id": ":user_id"})

        any_user = f"\\set user_id random(1, {self.users})\n"
        reader = (f"\\set k random(1, {len(self.readers)})\n"
                  f"SELECT user_id FROM {READERS_TABLE} WHERE k = :k \\gset\n"
                  if self.readers else any_user)
        timeline = script(f"home_timeline_{self.strategy}", reader)
        if self.query == "profile":
            return [(script("profile", any_user), 1)]
        if self.query == "home_timeline":
            return [(timeline, 1)]
        share = round(MIXED_PROFILE_SHARE * 10)
        return [(script("profile", any_user), share), (timeline, 10 - share)]

    def http_requests(self, host: str, port: int, count: int = 4096,
                      seed: int = 1) -> list[bytes]:
        """`count` requests of the mix, rendered once for the HTTP load generator to cycle."""
        rng = random.Random(seed)
        return [render_get(host, port, r.http_path, r.token)
                for r in (self.pick(rng) for _ in range(count))]


def issue_tokens(conn: psycopg.Connection) -> int:
    """Give every seeded user the token `conn-<id>` (run databases only); return the count.

    The run database is a throwaway copy, so predictable tokens are harmless there
    and let any client act as any user without shipping a token list around.
    """
    row = conn.execute("SELECT (value->>'users')::bigint FROM dataset_facts "
                       "WHERE key = 'rows'").fetchone()
    if row is None:
        raise LabError("the database is not seeded (no dataset_facts): run `lab seed` first")
    conn.execute(
        "INSERT INTO api_tokens (token_hash, user_id) "
        "SELECT sha256(convert_to(%s || id, 'UTF8')), id FROM users WHERE id <= %s "
        "ON CONFLICT DO NOTHING", (TOKEN_PREFIX, int(row[0])))
    conn.commit()
    return int(row[0])


def open_readers(conn: psycopg.Connection, strategy: str, users: int) -> tuple[int, ...]:
    """The seeded users whose cache is open, when some are closed and the strategy reads
    caches (push, hybrid); () when every seeded user reads warm. Also written, numbered
    from 1, to READERS_TABLE for pgbench (drop_readers removes it)."""
    if strategy == "pull":
        return ()
    conn.execute(f"CREATE UNLOGGED TABLE {READERS_TABLE} "
                 "(k integer PRIMARY KEY, user_id bigint NOT NULL)")
    inserted = conn.execute(
        f"INSERT INTO {READERS_TABLE} "
        "SELECT row_number() OVER (ORDER BY id), id FROM users AS u WHERE id <= %s "
        "AND NOT EXISTS (SELECT 1 FROM closed_caches AS c WHERE c.user_id = u.id)",
        (users,)).rowcount
    if inserted == users:       # seeded ids are 1..users: every cache is open
        conn.rollback()
        return ()
    readers = tuple(r[0] for r in conn.execute(f"SELECT user_id FROM {READERS_TABLE} ORDER BY k"))
    conn.commit()
    return readers


def drop_readers(conn: psycopg.Connection) -> None:
    conn.execute(f"DROP TABLE IF EXISTS {READERS_TABLE}")
    conn.commit()
