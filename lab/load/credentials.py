"""Bearer tokens for seeded users, handed to Locust as a JSON file.

Seeded users have no tokens (the seeder writes no secrets into templates);
a run issues fresh ones on its own copy of the database. Locust processes
read the file when a test starts, never at import, so master and workers
all see the same accounts.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import psycopg

from lab.errors import LabError
from lab.security import new_token, token_hash
from lab.verdicts import POWER_FOLLOWS

ORDINARY_USERS = 3000
PROTECTED_OWNERS = 200
POPULAR_ACCOUNTS = 50


def issue_credentials(conn: psycopg.Connection, ordinary_users: int = ORDINARY_USERS
                      ) -> dict[str, Any]:
    """Give tokens to the accounts each persona needs; return what Locust reads.

    - power_readers: every user following >= 1000 accounts (the SC3 population);
    - users: a deterministic spread of ordinary seeded users, with follow counts;
    - protected_owners: protected accounts with pending requests (to approve);
    - popular: public accounts with the most followers (newcomers follow them);
    - viral_tweet_id: the most liked tweet of a public account (the hot row).
    """
    seeded = conn.execute(
        "SELECT (value->>'users')::bigint FROM dataset_facts WHERE key = 'rows'").fetchone()
    if seeded is None:
        raise LabError("the database is not seeded (no dataset_facts): run `lab seed` first")
    seeded_users = int(seeded[0])
    power = conn.execute(
        "SELECT id, following_count FROM users WHERE following_count >= %s ORDER BY id",
        (POWER_FOLLOWS,)).fetchall()
    ordinary = conn.execute(
        # A deterministic spread over all ids (hash order), not the oldest accounts.
        "SELECT id, following_count FROM users WHERE id <= %s AND following_count < %s "
        "ORDER BY hashint8(id), id LIMIT %s",
        (seeded_users, POWER_FOLLOWS, ordinary_users)).fetchall()
    protected = conn.execute(
        "SELECT followee_id FROM follow_requests GROUP BY followee_id "
        "ORDER BY count(*) DESC, followee_id LIMIT %s", (PROTECTED_OWNERS,)).fetchall()
    popular = conn.execute(
        "SELECT id FROM users WHERE NOT is_protected ORDER BY followers_count DESC, id LIMIT %s",
        (POPULAR_ACCOUNTS,)).fetchall()
    viral = conn.execute(
        "SELECT t.id FROM tweets t JOIN users u ON u.id = t.user_id "
        "WHERE NOT u.is_protected AND t.body IS NOT NULL AND t.reply_to_tweet_id IS NULL "
        "ORDER BY t.like_count DESC, t.id LIMIT 1").fetchone()
    if not power or not ordinary or viral is None:
        raise LabError("the seeded database lacks power readers, users or tweets")

    tokens: list[tuple[bytes, int]] = []

    def account(user_id: int, following: int | None = None) -> dict[str, Any]:
        token = new_token(24)
        tokens.append((token_hash(token), user_id))
        entry: dict[str, Any] = {"id": user_id, "token": token}
        if following is not None:
            entry["following"] = following
        return entry

    result = {
        "seeded_users": seeded_users,
        "power_readers": [account(uid, n) for uid, n in power],
        "users": [account(uid, n) for uid, n in ordinary],
        "protected_owners": [account(uid) for (uid,) in protected],
        "popular": [uid for (uid,) in popular],
        "viral_tweet_id": int(viral[0]),
    }
    with conn.cursor() as cur:
        cur.executemany("INSERT INTO api_tokens (token_hash, user_id) VALUES (%s, %s)", tokens)
    conn.commit()
    return result


def write_credentials(path: Path, credentials: dict[str, Any]) -> None:
    """Write the file readable by its owner only: it holds live bearer tokens."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600, exist_ok=True)
    path.write_text(json.dumps(credentials))


def read_credentials(path: Path) -> dict[str, Any]:
    """Read a credentials file, or say how to make one."""
    try:
        data: dict[str, Any] = json.loads(path.read_text())
    except FileNotFoundError:
        raise LabError(f"no credentials file at {path}: run `lab credentials` (or `lab run`, "
                       "which writes one per run) first") from None
    return data
