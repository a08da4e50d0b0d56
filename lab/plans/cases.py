"""The cases EXPLAIN captures: each named statement the load runs, with the persona that
makes it hard (the power reader, the celebrity) or typical, and real parameters from the
dataset. Writes are captured too: capture rolls every case back.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from typing import Any

import psycopg

from lab.errors import LabError
from lab.queries import first_page

PAGE = 50


@dataclass(frozen=True)
class Persona:
    """A user picked for the hard (or the typical) case of a statement."""

    role: str
    user_id: int
    description: str
    following: int = 0
    followers: int = 0


@dataclass(frozen=True)
class Case:
    """One named statement with the parameters of one persona."""

    name: str
    persona: str
    description: str
    params: dict[str, Any]
    sql: str | None = None      # None: the named statement of lab/queries.sql


def dataset_personas(conn: psycopg.Connection, user: int | None = None) -> dict[str, Persona]:
    """Pick the power reader, the celebrity, an account with >= 1000 followers and a typical user.

    `user` replaces the power reader (the seed's "user with 1000 followers" of one's choice).
    """
    facts: dict[str, Any] = dict(conn.execute(
        "SELECT key, value FROM dataset_facts "
        "WHERE key IN ('power_readers', 'popular_accounts')").fetchall())
    if not facts.get("power_readers"):
        raise LabError("this database has no dataset facts: seed it first (`lab seed`)")
    popular = facts.get("popular_accounts") or facts["power_readers"]
    ordinary = conn.execute(
        "SELECT id, following_count, followers_count FROM users WHERE NOT is_protected "
        "ORDER BY abs(following_count - (SELECT percentile_disc(0.5) WITHIN GROUP "
        "(ORDER BY following_count) FROM users)), id LIMIT 1").fetchone()
    if ordinary is None:
        raise LabError("this database has no public user to explain with")
    reader_id = user if user is not None else int(facts["power_readers"][0]["id"])
    reader = conn.execute("SELECT following_count, followers_count FROM users WHERE id = %s",
                          (reader_id,)).fetchone()
    if reader is None:
        raise LabError(f"--user {reader_id}: no such user")
    counts = {row[0]: row[1:] for row in conn.execute(
        "SELECT id, following_count, followers_count FROM users WHERE id = ANY(%s)",
        ([int(popular[0]["id"]), int(popular[-1]["id"])],)).fetchall()}
    celebrity, follower_rich = int(popular[0]["id"]), int(popular[-1]["id"])
    celebrity_counts, rich_counts = counts.get(celebrity, (0, 0)), counts.get(follower_rich, (0, 0))
    return {
        "power_reader": Persona("power_reader", reader_id,
                                f"user {reader_id}, follows {reader[0]:,} accounts", *reader),
        "celebrity": Persona("celebrity", celebrity,
                             f"user {celebrity}, {celebrity_counts[1]:,} followers "
                             "(the most followed)", *celebrity_counts),
        "popular": Persona("popular", follower_rich,
                           f"user {follower_rich}, {rich_counts[1]:,} followers", *rich_counts),
        "ordinary": Persona("ordinary", int(ordinary[0]),
                            f"user {ordinary[0]}, follows {ordinary[1]:,} (the median), "
                            f"{ordinary[2]:,} followers", int(ordinary[1]), int(ordinary[2])),
    }


def scalar(conn: psycopg.Connection, statement: str, *params: Any) -> Any:
    """The first column of the first row (None when there is none)."""
    row = conn.execute(statement, params).fetchone()  # type: ignore[arg-type]
    return None if row is None else row[0]


def representative_cases(conn: psycopg.Connection, strategy: str,
                         people: dict[str, Persona]) -> list[Case]:
    """Every statement the load runs, each with the persona that makes it hard."""
    reader, celebrity = people["power_reader"].user_id, people["celebrity"].user_id
    ordinary, popular = people["ordinary"].user_id, people["popular"].user_id
    page = first_page(PAGE)
    newest = scalar(conn, "SELECT id FROM tweets WHERE user_id = %s AND body IS NOT NULL "
                        "ORDER BY created_at DESC, id DESC LIMIT 1", celebrity) or 1
    thread = scalar(conn, "SELECT id FROM tweets t WHERE NOT EXISTS (SELECT 1 FROM users u "
                        "WHERE u.id = t.user_id AND u.is_protected) "
                        "ORDER BY reply_count DESC, id LIMIT 1") or 1
    followee = scalar(conn, "SELECT followee_id FROM following WHERE follower_id = %s "
                          "ORDER BY followee_id LIMIT 1", reader) or celebrity
    stranger = scalar(conn, "SELECT u.id FROM users u WHERE NOT u.is_protected AND u.id <> %s "
                          "AND NOT EXISTS (SELECT 1 FROM following f WHERE f.follower_id = %s "
                          "AND f.followee_id = u.id) ORDER BY u.followers_count DESC, u.id "
                          "LIMIT 1", ordinary, ordinary) or popular
    stamp = hashlib.sha256(str(time.time()).encode()).hexdigest()[:12]
    timeline = f"home_timeline_{strategy}"

    def case(name: str, persona: str, description: str, **params: Any) -> Case:
        return Case(name, persona, description, {**page, **params})

    return [
        case(timeline, "power_reader", people["power_reader"].description,
             user_id=reader, viewer_id=reader),
        case(timeline, "ordinary", people["ordinary"].description,
             user_id=ordinary, viewer_id=ordinary),
        case("home_timeline_seed", "power_reader",
             f"the seed's fan-out-on-read query; {people['power_reader'].description}",
             user_id=reader),
        case("user_tweets", "celebrity", f"{people['celebrity'].description}, seen by the "
             "typical user", user_id=celebrity, viewer_id=ordinary),
        case("followers_page", "celebrity", people["celebrity"].description,
             user_id=celebrity, viewer_id=ordinary),
        case("following_page", "power_reader", people["power_reader"].description,
             user_id=reader, viewer_id=reader),
        case("thread", "ordinary", f"the most answered tweet ({thread}), seen by the typical "
             "user", tweet_id=thread, viewer_id=ordinary),
        case("get_tweet", "celebrity", f"the newest tweet of {people['celebrity'].description}",
             tweet_id=newest, viewer_id=ordinary),
        case("profile", "celebrity", f"{people['celebrity'].description}: stored counters "
             "make it as cheap as anyone's", user_id=celebrity),
        case("post_tweet", "celebrity", f"posted by {people['celebrity'].description} "
             "(the widest fan-out)", user_id=celebrity, body="explain: a new tweet",
             reply_to_tweet_id=None, original_tweet_id=None),
        case("post_tweet", "ordinary", f"posted by {people['ordinary'].description}",
             user_id=ordinary, body="explain: a new tweet", reply_to_tweet_id=None,
             original_tweet_id=None),
        case("follow", "ordinary", f"{people['ordinary'].description} follows user {stranger}",
             follower_id=ordinary, followee_id=stranger),
        case("unfollow", "power_reader", f"{people['power_reader'].description} unfollows "
             f"user {followee}", follower_id=reader, followee_id=followee),
        case("like", "ordinary", f"the typical user likes tweet {newest}", user_id=ordinary,
             tweet_id=newest),
        case("register_user", "new", "a new account", username=f"x_{stamp}",
             email=f"explain_{stamp}@example.test", display_name="Explain", bio="",
             is_protected=False, reply_policy="everyone",
             token_hash=hashlib.sha256(stamp.encode()).digest(), token_ttl_s=3600),
        case("authenticate", "ordinary", "a token lookup (every authenticated request)",
             token_hash=hashlib.sha256(b"no such token").digest()),
        case("rotate_token", "ordinary", "a token exchanged for a new one (no such token)",
             token_hash=hashlib.sha256(b"no such token").digest(), user_id=ordinary,
             new_token_hash=hashlib.sha256(stamp.encode() + b"new").digest(), token_ttl_s=3600),
        case("revoke_token", "ordinary", "log out (no such token)",
             token_hash=hashlib.sha256(b"no such token").digest(), user_id=ordinary),
        *later_cases(conn, strategy, people, newest),
    ]


def later_cases(conn: psycopg.Connection, strategy: str, people: dict[str, Persona],
                newest: int) -> list[Case]:
    """The statements behind the less frequent requests: later timeline pages, profile
    changes, follow requests and their decisions, removals, undos and deletes."""
    reader, celebrity = people["power_reader"].user_id, people["celebrity"].user_id
    ordinary = people["ordinary"].user_id
    page = first_page(PAGE)
    # A second page: the cursor the first page of the power reader's timeline ends at.
    cursor = conn.execute(
        "SELECT t.created_at, t.id FROM following f JOIN tweets t ON t.user_id = f.followee_id "
        "WHERE f.follower_id = %s ORDER BY t.created_at DESC, t.id DESC OFFSET %s LIMIT 1",
        (reader, PAGE - 1)).fetchone()
    owner = conn.execute(
        "SELECT followee_id, min(follower_id) FROM follow_requests GROUP BY followee_id "
        "ORDER BY count(*) DESC, followee_id LIMIT 1").fetchone()
    gatekeeper, requester = (int(owner[0]), int(owner[1])) if owner else (ordinary, reader)
    follower = scalar(conn, "SELECT follower_id FROM followers WHERE followee_id = %s "
                            "ORDER BY follower_id LIMIT 1", celebrity) or ordinary
    retweet = conn.execute("SELECT user_id, original_tweet_id FROM tweets WHERE body IS NULL "
                           "AND original_tweet_id IS NOT NULL ORDER BY id LIMIT 1").fetchone()
    liked = conn.execute("SELECT user_id, tweet_id FROM likes ORDER BY tweet_id, user_id "
                         "LIMIT 1").fetchone()
    username = scalar(conn, "SELECT username FROM users WHERE id = %s", celebrity) or ""

    def case(name: str, persona: str, description: str, **params: Any) -> Case:
        return Case(name, persona, description, {**page, **params})

    cases = [
        case("profile_by_username", "celebrity", f"{people['celebrity'].description}, by "
             "name", username=username),
        case("update_profile", "ordinary", "the typical user changes their bio",
             user_id=ordinary, display_name=None, bio="explain: a new bio", is_protected=None,
             reply_policy=None),
        case("follow_requests", "gatekeeper", f"user {gatekeeper}'s waiting requests",
             user_id=gatekeeper),
        case("decide_follow_request", "gatekeeper", f"user {gatekeeper} approves user "
             f"{requester}", user_id=gatekeeper, requester_id=requester, approve=True),
        case("approve_all_requests", "gatekeeper", f"user {gatekeeper} stops being protected "
             "and accepts every waiting request", user_id=gatekeeper),
        case("remove_follower", "celebrity", f"{people['celebrity'].description} removes "
             f"follower {follower}", user_id=celebrity, follower_id=follower),
        case("delete_tweet", "celebrity", f"the newest tweet of "
             f"{people['celebrity'].description}, deleted", user_id=celebrity,
             tweet_id=newest),
        case("health", "none", "the health check"),
        case("deliver_queued", "none", "a batch of the fan-out queue (lab.fanout = queue)",
             batch=100),
    ]
    if cursor is not None:
        cases.insert(0, case(f"home_timeline_{strategy}", "power_reader (page 2)",
                             f"{people['power_reader'].description}: the next page",
                             user_id=reader, viewer_id=reader, before_ts=cursor[0],
                             before_id=int(cursor[1])))
    if retweet is not None:
        cases.append(case("undo_retweet", "ordinary", f"user {retweet[0]} undoes a retweet",
                          user_id=int(retweet[0]), tweet_id=int(retweet[1])))
    if liked is not None:
        cases.append(case("unlike", "ordinary", f"user {liked[0]} unlikes tweet {liked[1]}",
                          user_id=int(liked[0]), tweet_id=int(liked[1])))
    return cases
