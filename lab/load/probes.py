"""Probe accounts made on a fresh copy: readers following exactly N accounts (the cost
curves), authors with about N followers, and followers watching an author (visibility lag).

They are made through the lab's own statements (register_user, follow), under the
timeline settings of the strategy measured, so a push reader's cache is backfilled
as a real follow backfills it. The seeded template is never touched: the study works
on a copy, so the seeder's determinism and its checksums stay as they are.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import psycopg

from lab.queries import query
from lab.security import new_token, token_hash

FOLLOW_TARGETS = (10, 100, 500, 1000, 2000, 5000)
FOLLOWER_TARGETS = (10, 30, 100, 300, 1000, 3000, 10000, 30000)


@dataclass(frozen=True)
class Probe:
    user_id: int
    token: str
    size: int              # follows of a reader, followers of an author


def new_account(conn: psycopg.Connection, label: str) -> Probe:
    """A fresh public account with a bearer token (register_user, as sign-up makes one)."""
    token = new_token(24)
    stamp = hashlib.sha256(f"{label}:{token}".encode()).hexdigest()[:12]
    row = conn.execute(query("register_user"), {  # type: ignore[arg-type]
        "username": f"p_{stamp}", "email": f"probe_{stamp}@example.test",
        "display_name": f"probe {label}", "bio": "", "is_protected": False,
        "reply_policy": "everyone", "token_hash": token_hash(token),
        "token_ttl_s": 24 * 3600}).fetchone()
    assert row is not None
    return Probe(int(row[0]["id"]), token, 0)


def follow_targets(conn: psycopg.Connection, most: int) -> list[int]:
    """The follow counts a reader can have on this dataset: FOLLOW_TARGETS up to the public
    accounts there are (a tiny dataset cannot hold a reader following 5000)."""
    public = conn.execute("SELECT count(*) FROM users WHERE NOT is_protected").fetchone()
    limit = min(most, int(public[0]) if public else 0)
    return [n for n in FOLLOW_TARGETS if n <= limit]


def make_reader(conn: psycopg.Connection, follows: int, label: str) -> Probe:
    """A new account following `follows` public accounts, chosen in a fixed hash order (the
    same accounts for every strategy), each through the `follow` statement."""
    reader = new_account(conn, label)
    followees = [r[0] for r in conn.execute(
        "SELECT id FROM users WHERE NOT is_protected AND id <> %s "
        "ORDER BY hashint8(id), id LIMIT %s", (reader.user_id, follows))]
    with conn.cursor() as cursor:
        cursor.executemany(query("follow"),  # type: ignore[arg-type]
                           [{"follower_id": reader.user_id, "followee_id": f}
                            for f in followees])
    conn.commit()
    return Probe(reader.user_id, reader.token, len(followees))


def pick_authors(conn: psycopg.Connection, targets: tuple[int, ...] = FOLLOWER_TARGETS,
                 largest_too: bool = True) -> list[Probe]:
    """For each target up to the largest public account, the public account whose follower
    count is nearest it (log distance), with a token; with `largest_too` the largest.
    Chosen in SQL: every run prepares this, and a large dataset has a million accounts."""
    public = "FROM users WHERE NOT is_protected AND followers_count > 0"
    largest = conn.execute(f"SELECT id, followers_count {public} "
                           "ORDER BY followers_count DESC, id LIMIT 1").fetchone()
    if largest is None:
        return []
    chosen: dict[int, int] = {largest[0]: largest[1]} if largest_too else {}
    for target in (t for t in targets if t < largest[1]):
        row = conn.execute(f"SELECT id, followers_count {public} "
                           "ORDER BY abs(ln(followers_count) - ln(%s)), id LIMIT 1",
                           (target,)).fetchone()
        assert row is not None
        chosen[row[0]] = row[1]
    probes = []
    for user_id, count in sorted(chosen.items(), key=lambda item: item[1]):
        token = new_token(24)
        conn.execute("INSERT INTO api_tokens (token_hash, user_id) VALUES (%s, %s)",
                     (token_hash(token), user_id))
        probes.append(Probe(user_id, token, count))
    conn.commit()
    return probes


def watch(conn: psycopg.Connection, author: Probe, label: str) -> Probe:
    """A new account following `author`: whose home timeline shows when a post arrives."""
    watcher = new_account(conn, label)
    conn.execute(query("follow"),  # type: ignore[arg-type]
                 {"follower_id": watcher.user_id, "followee_id": author.user_id})
    conn.commit()
    return watcher
