"""What every client of the connection experiment asks for, the same on every path.

Each request is for a random seeded user: the profile statement, the home timeline
statement of the server's strategy, or a mix. The database paths run the exact SQL of
lab/queries.sql; the API path calls the endpoint that serves that SQL. Every seeded
user gets a token `conn-<id>` so the API path can read any user's own timeline.
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
        params = {**first_page(PAGE), "user_id": user}
        return Request(f"home_timeline_{self.strategy}", params, f"/timeline/home?limit={PAGE}",
                       f"{TOKEN_PREFIX}{user}")

    def sql(self, request: Request) -> str:
        return query(request.statement)

    def pgbench_scripts(self) -> list[tuple[str, int]]:
        """pgbench scripts and their weights: the same statements, a random user each time."""
        def script(statement: str) -> str:
            values = {**first_page(PAGE), "user_id": ":user_id"}
            return f"\\set user_id random(1, {self.users})\n" + pgbench_sql(statement, values)

        timeline = script(f"home_timeline_{self.strategy}")
        if self.query == "profile":
            return [(script("profile"), 1)]
        if self.query == "home_timeline":
            return [(timeline, 1)]
        share = round(MIXED_PROFILE_SHARE * 10)
        return [(script("profile"), share), (timeline, 10 - share)]

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
