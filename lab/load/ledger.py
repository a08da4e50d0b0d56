"""The client-side ledger of acknowledged writes, checked against the database after a run.

Every tweet and account the API acknowledged (201 with the new id) is
recorded with the request (`created_id`), and every tweet a client deleted
(204, `deleted_id`). After the run each acknowledged write must be in the
database unless its own client deleted it: a 201 is a promise. Writes that
landed without an acknowledgement (the answer was lost to a fault) are
counted, and a post body that appears twice means one request wrote twice.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import psycopg

from lab.records import Ledger

# Request names whose 201 creates a row of this table.
CREATES = {"post_tweet": "tweets", "reply": "tweets", "quote": "tweets",
           "register_user": "users"}


@dataclass(frozen=True)
class IdsBefore:
    """The highest ids before the load: rows above them were written by the run."""

    tweets: int
    users: int


def ids_before(conn: psycopg.Connection) -> IdsBefore:
    row = conn.execute("SELECT (SELECT coalesce(max(id), 0) FROM tweets),"
                       " (SELECT coalesce(max(id), 0) FROM users)").fetchone()
    assert row is not None
    return IdsBefore(int(row[0]), int(row[1]))


def acknowledged_ids(samples: pd.DataFrame, table: str) -> set[int]:
    names = [name for name, created_in in CREATES.items() if created_in == table]
    rows = samples[samples["name"].isin(names) & (samples["status"] == 201)]
    return {int(i) for i in rows["created_id"].dropna()}


def check_ledger(conn: psycopg.Connection, samples: pd.DataFrame, before: IdsBefore,
                 probed: set[int] | None = None) -> Ledger:
    """Compare what clients were told with what the database holds; `probed`: tweets the
    visibility probe posted and was answered 201 for (a promise like any other)."""
    tweets = acknowledged_ids(samples, "tweets") | (probed or set())
    users = acknowledged_ids(samples, "users")
    deleted = {int(i) for i in samples.loc[samples["status"] == 204, "deleted_id"].dropna()}
    present_tweets = {int(r[0]) for r in conn.execute(
        "SELECT id FROM tweets WHERE id > %s AND body IS NOT NULL", (before.tweets,))}
    present_users = {int(r[0]) for r in conn.execute(
        "SELECT id FROM users WHERE id > %s", (before.users,))}
    expected_tweets = tweets - deleted
    lost = sorted((expected_tweets - present_tweets) | (users - present_users))
    row = conn.execute(
        "SELECT coalesce(sum(n - 1), 0) FROM (SELECT count(*) AS n FROM tweets "
        "WHERE id > %s AND body IS NOT NULL GROUP BY user_id, body HAVING count(*) > 1) d",
        (before.tweets,)).fetchone()
    duplicated = int(row[0]) if row else 0
    # Rows written by the run that no 201 announced. Replies and quotes count
    # as posts; retweets (no body) are idempotent and not ledgered.
    unacknowledged = len(present_tweets - tweets) + len(present_users - users)
    acknowledged = len(tweets) + len(users)
    deleted_by_clients = len(tweets & deleted)
    return Ledger(acknowledged=acknowledged, deleted_by_clients=deleted_by_clients,
                  found=acknowledged - deleted_by_clients - len(lost), lost=len(lost),
                  lost_ids=lost[:20], unacknowledged_landed=unacknowledged, duplicated=duplicated)
