"""What one seeded dataset costs to hold and to write to: its size on disk, table by
table, the rows one post fans out to and the WAL one post writes.

These are the quantities the on-paper estimates past this machine are made of
(docs/scaling-out.md): each is measured at every size of `lab scaling --sizes`, and
fitted against the number of users like the time curves.
"""

from __future__ import annotations

import random
import statistics
from typing import Any

import psycopg

from lab.fits import loglog_fit
from lab.plans.capture import set_session
from lab.queries import query

# Table groups whose on-disk size (heap, indexes, TOAST) is reported on their own.
TABLES = ("home_timeline", "tweets", "following", "followers", "likes", "users")
WAL_POSTS = 20
WAL_SAMPLE_SEED = 7


def database_sizes(conn: psycopg.Connection) -> dict[str, int]:
    """{database, <table>...}: bytes on disk, indexes and TOAST included (0 for a table
    this schema lacks)."""
    row = conn.execute(
        "SELECT pg_database_size(current_database()), array_agg(coalesce("
        "pg_total_relation_size(to_regclass(t)), 0) ORDER BY n) "
        "FROM unnest(%s::text[]) WITH ORDINALITY AS x (t, n)", (list(TABLES),)).fetchone()
    assert row is not None
    return {"database": int(row[0]), **{t: int(b) for t, b in zip(TABLES, row[1], strict=True)}}


def fanout_rows_per_post(conn: psycopg.Connection) -> dict[str, float]:
    """Cache rows one post writes under push, on average over the seeded tweets (so
    authors weigh as often as they post): `open`, to the followers whose cache is open
    and the author's own if theirs is, as fan-out writes them; `every`, as it would with
    every cache kept (each follower and the author)."""
    row = conn.execute("""
        WITH open_followers AS (
            SELECT f.followee_id, count(*) AS n FROM followers AS f
            WHERE NOT EXISTS (SELECT 1 FROM closed_caches AS c
                              WHERE c.user_id = f.follower_id)
            GROUP BY f.followee_id)
        SELECT sum((coalesce(o.n, 0) + CASE WHEN c.user_id IS NULL THEN 1 ELSE 0 END)
                   * u.tweet_count::numeric) / nullif(sum(u.tweet_count), 0),
               sum((u.followers_count + 1) * u.tweet_count::numeric)
                   / nullif(sum(u.tweet_count), 0)
        FROM users AS u
        LEFT JOIN open_followers AS o ON o.followee_id = u.id
        LEFT JOIN closed_caches AS c ON c.user_id = u.id
        WHERE u.tweet_count > 0""").fetchone()
    if not row or row[0] is None:
        return {"open": 0.0, "every": 0.0}
    return {"open": float(row[0]), "every": float(row[1])}


def wal_per_post(conn: psycopg.Connection, session: dict[str, str],
                 posts: int = WAL_POSTS) -> dict[str, Any]:
    """WAL bytes of `posts` posts under push with inline fan-out, each by the author of a
    seeded tweet drawn at random (so authors come as often as they post), each posted
    twice in transactions rolled back.

    The first post is the first write to its pages since the copy's checkpoint, so its
    WAL carries full-page images (`first`); the second writes the same pages again
    (`again`: the rows alone). A server's steady state lies between the two, nearer
    `first` when the caches outgrow what a checkpoint interval touches. Means are what a
    posting rate multiplies; the commit record (tens of bytes) is left out."""
    row = conn.execute("SELECT min(id), max(id) FROM tweets").fetchone()
    if not row or row[0] is None:
        return {"first_mean": None, "again_mean": None, "posts": 0}
    draw = random.Random(WAL_SAMPLE_SEED)
    authors: list[tuple[int, int]] = []
    while len(authors) < posts:
        found = conn.execute("SELECT t.user_id, u.followers_count FROM tweets AS t "
                             "JOIN users AS u ON u.id = t.user_id WHERE t.id >= %s "
                             "ORDER BY t.id LIMIT 1", (draw.randint(row[0], row[1]),)).fetchone()
        if found:
            authors.append((int(found[0]), int(found[1])))
    set_session(conn, session)
    first = [_post_wal(conn, author) for author, _ in authors]
    again = [_post_wal(conn, author) for author, _ in authors]
    return {"first_mean": round(statistics.fmean(first)), "first_max": max(first),
            "again_mean": round(statistics.fmean(again)), "again_max": max(again),
            "posts": len(authors),
            "authors_followers_mean": round(statistics.fmean(f for _, f in authors), 1)}


def _post_wal(conn: psycopg.Connection, author: int) -> int:
    """WAL bytes one post by `author` writes, in a transaction rolled back."""
    with conn.transaction(force_rollback=True):
        before = conn.execute("SELECT pg_current_wal_insert_lsn()").fetchone()
        conn.execute(query("post_tweet"), {  # type: ignore[arg-type]
            "user_id": author, "body": "scaling: WAL of one post",
            "reply_to_tweet_id": None, "original_tweet_id": None})
        after = conn.execute("SELECT pg_current_wal_insert_lsn() - %s::pg_lsn",
                             (before[0] if before else None,)).fetchone()
    return int(after[0]) if after else 0


def footprint(conn: psycopg.Connection, facts: dict[str, Any],
              session: dict[str, str]) -> dict[str, Any]:
    """One size's footprint: its rows (from the seed's facts), bytes, fan-out and WAL."""
    rows = facts.get("rows", {})
    seeding = facts.get("seeding", {})
    users = conn.execute("SELECT count(*) FROM users").fetchone()
    return {"scale": facts.get("scale"), "users": int(users[0]) if users else 0,
            "rows": rows, "loaded_rows": sum(int(v) for v in rows.values()),
            "bytes": database_sizes(conn), "fanout_rows_per_post": fanout_rows_per_post(conn),
            "wal_per_post": wal_per_post(conn, session),
            "seed_peak_memory_mb": seeding.get("peak_memory_mb"),
            "seed_s": _seed_seconds(seeding)}


def _seed_seconds(seeding: dict[str, Any]) -> float | None:
    parts = [seeding.get(k) for k in ("generate_s", "copy_s", "build_s", "analyze_s")]
    numbers = [float(p) for p in parts if isinstance(p, int | float)]
    return round(sum(numbers), 1) if len(numbers) == len(parts) else None


# Fitted quantities: name -> (the x it is fitted against, how to read it off a footprint).
# Against users, how each grows with the network; the bytes also against the loaded rows
# (exponent 1: a row costs the same at every size).
FITTED = {
    "loaded rows against users": ("users", lambda f: f["loaded_rows"]),
    "database bytes against users": ("users", lambda f: f["bytes"]["database"]),
    "home_timeline bytes against users": ("users", lambda f: f["bytes"].get("home_timeline")),
    "cache rows per post against users": ("users", lambda f: f["fanout_rows_per_post"]["open"]),
    "cache rows per post, every cache kept, against users": (
        "users", lambda f: f["fanout_rows_per_post"]["every"]),
    "WAL bytes per post, first write since a checkpoint, against users": (
        "users", lambda f: f["wal_per_post"].get("first_mean")),
    "WAL bytes per post, pages written before, against users": (
        "users", lambda f: f["wal_per_post"].get("again_mean")),
    "database bytes against loaded rows": ("loaded_rows", lambda f: f["bytes"]["database"]),
}


def footprint_fits(footprints: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each quantity of FITTED, log-log fitted against its x."""
    return [{"label": label,
             "points": [{"x": f[x], "y": read(f), "scale": f["scale"]} for f in footprints],
             "fit": loglog_fit([f[x] for f in footprints], [read(f) or 0 for f in footprints])}
            for label, (x, read) in FITTED.items()]


def footprint_text(entry: dict[str, Any]) -> str:
    """One line for the progress output."""
    wal = entry["wal_per_post"]
    text = (f"{entry['users']:,} users, {entry['loaded_rows']:,} rows, "
            f"{entry['bytes']['database'] / 2**30:.2f} GiB, "
            f"{entry['fanout_rows_per_post']['open']:.0f} cache rows per post "
            f"({entry['fanout_rows_per_post']['every']:.0f} with every cache)")
    if wal.get("first_mean") is None:
        return text
    return (f"{text}; WAL per post {wal['first_mean'] / 1024:.1f} KiB on first write since "
            f"a checkpoint, {wal['again_mean'] / 1024:.1f} KiB after")
