"""Load a generated dataset into a migrated, empty database as fast as PostgreSQL allows.

Indexes and constraints are dropped before the load and rebuilt after it
from their own catalog definitions, so the migrations stay the single source
of the schema. Each table is truncated and filled by one binary
`COPY ... FREEZE` in the same transaction: rows arrive frozen (no later
hint-bit rewrite or anti-wraparound vacuum) and, on a server with
wal_level=minimal like the embedded one, without WAL.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import psycopg
from psycopg import sql
from psycopg.copy import QueuedLibpqWriter

from lab.progress import Reporter
from lab.seed.copy_binary import (
    HEADER,
    NULL,
    TRAILER,
    Column,
    Fixed,
    Variable,
    encode_rows,
    nullable_int8,
    row_count,
    text_field,
)
from lab.seed.generate import BODY_POOL_SIZE, Dataset
from lab.seed.text import bio, body_pool, display_name
from lab.seed.timeline import home_timeline_chunks

CHUNK_ROWS = 250_000
LOADED_TABLES = ("users", "following", "followers", "follow_requests", "tweets", "likes",
                 "home_timeline", "home_timeline_floors")

ChunkSource = Callable[[Dataset], Iterator[list[Column]]]


@dataclass
class LoadResult:
    """What the load did, for the summary and the note."""

    rows: dict[str, int]
    copy_seconds: float
    build_seconds: float
    analyze_seconds: float

    @property
    def total_rows(self) -> int:
        return sum(self.rows.values())

    @property
    def seconds(self) -> float:
        return self.copy_seconds + self.build_seconds + self.analyze_seconds


# -- the rows of each table ---------------------------------------------------


def _chunks(n: int) -> Iterator[slice]:
    for start in range(0, n, CHUNK_ROWS):
        yield slice(start, min(start + CHUNK_ROWS, n))


def users_rows(data: Dataset) -> Iterator[list[Column]]:
    u = data.users
    policy = [text_field("everyone"), text_field("following")]
    for part in _chunks(u.count):
        ids = np.arange(part.start + 1, part.stop + 1, dtype=np.int64)
        id_list = ids.tolist()
        yield [
            Fixed(ids, "int8"),
            Fixed(u.is_protected[part], "bool"),
            Fixed(u.followers_count[part], "int4"),
            Fixed(u.following_count[part], "int4"),
            Fixed(u.tweet_count[part], "int4"),
            Fixed(u.created_at[part], "timestamptz"),
            Variable([text_field(f"user{i}") for i in id_list]),
            Variable([text_field(f"user{i}@example.com") for i in id_list]),
            Variable([text_field(display_name(i)) for i in id_list]),
            Variable([text_field(bio(i)) for i in id_list]),
            Variable([policy[flag] for flag in u.reply_following[part].tolist()]),
        ]


def _edge_rows(first: np.ndarray, second: np.ndarray, created: np.ndarray,
               order: np.ndarray | None = None) -> Iterator[list[Column]]:
    # Reordered a chunk at a time: reordering whole columns would hold a second copy
    # of the graph (a gigabyte at a million users) while the first is still needed.
    for part in _chunks(len(first)):
        rows = part if order is None else order[part]
        yield [Fixed(first[rows] + 1, "int8"), Fixed(second[rows] + 1, "int8"),
               Fixed(created[rows], "timestamptz")]


def following_rows(data: Dataset) -> Iterator[list[Column]]:
    e = data.edges  # already sorted by (follower, followee)
    return _edge_rows(e.follower, e.followee, e.created_at)


def followers_rows(data: Dataset) -> Iterator[list[Column]]:
    e = data.edges
    return _edge_rows(e.followee, e.follower, e.created_at, np.lexsort((e.follower, e.followee)))


def follow_requests_rows(data: Dataset) -> Iterator[list[Column]]:
    r = data.requests
    return _edge_rows(r.followee, r.follower, r.created_at, np.lexsort((r.follower, r.followee)))


def tweets_rows(data: Dataset) -> Iterator[list[Column]]:
    t = data.tweets
    pool = body_pool(BODY_POOL_SIZE, data.seed)
    nulls = np.int64(-1)
    for part in _chunks(len(t.author)):
        reply_to, original = t.reply_to[part], t.original[part]
        yield [
            Fixed(np.arange(part.start + 1, part.stop + 1, dtype=np.int64), "int8"),
            Fixed(t.author[part] + 1, "int8"),
            Fixed(t.like_count[part], "int4"),
            Fixed(t.retweet_count[part], "int4"),
            Fixed(t.quote_count[part], "int4"),
            Fixed(t.reply_count[part], "int4"),
            Fixed(t.created_at[part], "timestamptz"),
            nullable_int8(np.where(reply_to == nulls, nulls, reply_to + 1)),
            nullable_int8(np.where(original == nulls, nulls, original + 1)),
            Variable([pool[b] if b >= 0 else NULL for b in t.body[part].tolist()]),
        ]


def likes_rows(data: Dataset) -> Iterator[list[Column]]:
    lk = data.likes  # sorted by (user, tweet)
    return _edge_rows(lk.user, lk.tweet, lk.created_at)


def home_timeline_rows(data: Dataset) -> Iterator[list[Column]]:
    for user, tweet in home_timeline_chunks(data):
        yield [Fixed(user + 1, "int8"), Fixed(data.tweets.created_at[tweet], "timestamptz"),
               Fixed(tweet + 1, "int8")]


TABLES: list[tuple[str, tuple[str, ...], ChunkSource]] = [
    ("users", ("id", "is_protected", "followers_count", "following_count", "tweet_count",
               "created_at", "username", "email", "display_name", "bio", "reply_policy"),
     users_rows),
    ("following", ("follower_id", "followee_id", "created_at"), following_rows),
    ("followers", ("followee_id", "follower_id", "created_at"), followers_rows),
    ("follow_requests", ("followee_id", "follower_id", "created_at"), follow_requests_rows),
    ("tweets", ("id", "user_id", "like_count", "retweet_count", "quote_count", "reply_count",
                "created_at", "reply_to_tweet_id", "original_tweet_id", "body"), tweets_rows),
    ("likes", ("user_id", "tweet_id", "created_at"), likes_rows),
    ("home_timeline", ("user_id", "created_at", "tweet_id"), home_timeline_rows),
]


# Arrays no table copied later needs (home_timeline reads only the tweets' authors and
# times, and the edges): released once their table is in, they do not add to the peak
# memory of building the home timelines, the seeder's largest step.
RELEASED_AFTER: dict[str, tuple[tuple[str, str], ...]] = {
    "tweets": tuple(("tweets", name) for name in (
        "kind", "reply_to", "original", "body", "like_count", "retweet_count", "quote_count",
        "reply_count")),
    "likes": (("likes", "user"), ("likes", "tweet"), ("likes", "created_at")),
}


def release(data: Dataset, table: str) -> None:
    """Drop the arrays only `table` needed (the dataset is the load's to consume)."""
    for group, name in RELEASED_AFTER.get(table, ()):
        rows = getattr(data, group)
        setattr(rows, name, getattr(rows, name)[:0].copy())


def expected_rows(data: Dataset, table: str) -> int | None:
    """Return the row count a table will get, when known before generating it."""
    return {
        "users": data.users.count, "following": len(data.edges.follower),
        "followers": len(data.edges.follower), "follow_requests": len(data.requests.follower),
        "tweets": len(data.tweets.author), "likes": len(data.likes.user),
    }.get(table)


# -- deferring indexes and constraints -------------------------------------


@dataclass
class DeferredDDL:
    """Statements to drop before the load and to run again after it, in order."""

    drop: list[str]
    create: list[tuple[str, str]]  # (label, statement)


def capture_ddl(conn: psycopg.Connection, tables: tuple[str, ...]) -> DeferredDDL:
    """Read the definitions of the tables' keys, indexes and foreign keys from the catalog."""
    constraints = conn.execute(
        """
        SELECT conrelid::regclass::text, conname, contype, pg_get_constraintdef(oid),
               obj_description(conindid, 'pg_class')
        FROM pg_constraint
        WHERE (conrelid = ANY(%(tables)s::regclass[]) AND contype IN ('p', 'u', 'f'))
           OR (confrelid = ANY(%(tables)s::regclass[]) AND contype = 'f')
        ORDER BY contype = 'f', conrelid::regclass::text, conname
        """, {"tables": list(tables)}).fetchall()
    indexes = conn.execute(
        """
        SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid),
               obj_description(i.indexrelid, 'pg_class')
        FROM pg_index i
        WHERE i.indrelid = ANY(%(tables)s::regclass[])
          AND NOT EXISTS (SELECT 1 FROM pg_constraint c
                          WHERE c.conindid = i.indexrelid AND c.contype IN ('p', 'u', 'x'))
        ORDER BY 1
        """, {"tables": list(tables)}).fetchall()

    def ident(name: str) -> str:
        return sql.Identifier(name).as_string(conn)

    def comment(index: str, text: str | None) -> list[tuple[str, str]]:
        if text is None:
            return []
        return [(f"comment {index}", f"COMMENT ON INDEX {ident(index)} IS "
                 f"{sql.Literal(text).as_string(conn)}")]

    foreign = [c for c in constraints if c[2] == "f"]
    keys = [c for c in constraints if c[2] != "f"]
    drop = [f"ALTER TABLE {ident(t)} DROP CONSTRAINT {ident(n)}" for t, n, *_ in foreign]
    drop += [f"DROP INDEX {ident(name)}" for name, _, _ in indexes]
    drop += [f"ALTER TABLE {ident(t)} DROP CONSTRAINT {ident(n)}" for t, n, *_ in keys]
    create: list[tuple[str, str]] = []
    for table, name, _, definition, text in keys:
        create.append((f"{table} {name}",
                       f"ALTER TABLE {ident(table)} ADD CONSTRAINT {ident(name)} {definition}"))
        create += comment(name, text)
    for name, definition, text in indexes:
        create.append((name, definition))
        create += comment(name, text)
    create += [(f"{t} {n}", f"ALTER TABLE {ident(t)} ADD CONSTRAINT {ident(n)} {d}")
               for t, n, _, d, _ in foreign]
    return DeferredDDL(drop, create)


# -- the load itself ------------------------------------------------------------


def copy_table(conn: psycopg.Connection, table: str, columns: tuple[str, ...],
               chunks: Iterator[list[Column]], reporter: Reporter) -> int:
    """Replace the table's rows with `chunks` in one transaction; return the row count."""
    statement = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT BINARY, FREEZE)").format(
        sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, columns)))
    rows = 0
    with conn.transaction(), conn.cursor() as cur:
        cur.execute(sql.SQL("TRUNCATE {}").format(sql.Identifier(table)))
        with cur.copy(statement, writer=QueuedLibpqWriter(cur)) as copy:
            copy.write(HEADER)
            for chunk in chunks:
                copy.write(encode_rows(chunk))
                count = row_count(chunk)
                rows += count
                reporter.advance(count)
            copy.write(TRAILER)
    return rows


def load_dataset(conn: psycopg.Connection, data: Dataset, reporter: Reporter) -> LoadResult:
    """Fill a freshly migrated database with `data`, rebuild its indexes, analyze it.

    The per-row arrays of `data` are released as their tables are copied."""
    conn.autocommit = True
    ddl = capture_ddl(conn, LOADED_TABLES)
    with conn.transaction():
        for statement in ddl.drop:
            conn.execute(statement)  # type: ignore[arg-type]

    rows: dict[str, int] = {}
    started = time.perf_counter()
    for table, columns, source in TABLES:
        phase_started = time.perf_counter()
        reporter.phase(f"copy {table}", expected_rows(data, table))
        rows[table] = copy_table(conn, table, columns, source(data), reporter)
        release(data, table)
        reporter.done(f"copy {table}", time.perf_counter() - phase_started)
    copy_seconds = time.perf_counter() - started

    started = time.perf_counter()
    for label, statement in ddl.create:
        phase_started = time.perf_counter()
        reporter.phase(f"build {label}")
        conn.execute(statement)  # type: ignore[arg-type]
        reporter.done(f"build {label}", time.perf_counter() - phase_started)
    phase_started = time.perf_counter()
    reporter.phase("home timeline floors")
    floors = conn.execute("SELECT set_home_timeline_floors(%s)",
                          (data.scale.timeline_cap,)).fetchone()
    closed = np.flatnonzero(~data.open_caches) + 1
    conn.execute("INSERT INTO home_timeline_floors (user_id, floor_created_at, floor_tweet_id) "
                 "SELECT u, closed_floor(), 9223372036854775807 FROM unnest(%s::bigint[]) AS u",
                 (closed.tolist(),))
    rows["home_timeline_floors"] = (int(floors[0]) if floors else 0) + len(closed)
    conn.execute("SELECT mark_caches_complete('push')")     # built as fan-out on write would
    reporter.done("home timeline floors", time.perf_counter() - phase_started)
    for table in ("users", "tweets"):
        conn.execute(sql.SQL(
            "SELECT setval(pg_get_serial_sequence({t}, 'id'), (SELECT max(id) FROM {i}))"
        ).format(t=sql.Literal(table), i=sql.Identifier(table)))
    build_seconds = time.perf_counter() - started

    started = time.perf_counter()
    reporter.phase("vacuum analyze")
    for table in LOADED_TABLES:
        conn.execute(sql.SQL("VACUUM (ANALYZE) {}").format(sql.Identifier(table)))
    analyze_seconds = time.perf_counter() - started
    reporter.done("vacuum analyze", analyze_seconds)
    return LoadResult(rows, copy_seconds, build_seconds, analyze_seconds)


def write_facts(conn: psycopg.Connection, facts: dict[str, object]) -> None:
    """Store what the seeder made in dataset_facts for scenarios and reports."""
    with conn.transaction():
        conn.execute("DELETE FROM dataset_facts")
        for key, value in facts.items():
            conn.execute("INSERT INTO dataset_facts (key, value) VALUES (%s, %s::jsonb)",
                         (key, json.dumps(value)))
