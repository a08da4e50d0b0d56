"""Capture EXPLAIN (ANALYZE, BUFFERS, SETTINGS, FORMAT JSON) of the named statements.

The API's statements call SQL and PL/pgSQL functions, whose inner statements
a plain EXPLAIN hides behind one Result node. auto_explain, loaded into the
capturing session only and told to report at NOTICE level, hands those inner
plans back to the client, so the report shows where the time really goes.
Every capture runs in a transaction that is rolled back: explaining a write
changes nothing.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql

from lab.errors import LabError, first_line
from lab.progress import Say
from lab.queries import first_page, query

PAGE = 50
EXPLAIN_OPTIONS = "ANALYZE, BUFFERS, SETTINGS, FORMAT JSON"
AUTO_EXPLAIN_SETTINGS = {
    "auto_explain.log_min_duration": "0", "auto_explain.log_analyze": "on",
    "auto_explain.log_buffers": "on", "auto_explain.log_nested_statements": "on",
    "auto_explain.log_format": "json", "auto_explain.log_level": "notice",
}
NOTICE_PLAN = re.compile(r"^duration: ([\d.]+) ms\s+plan:\s*(\{.*\})\s*$", re.DOTALL)


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


def _one(conn: psycopg.Connection, statement: str, *params: Any) -> Any:
    row = conn.execute(statement, params).fetchone()  # type: ignore[arg-type]
    return None if row is None else row[0]


def representative_cases(conn: psycopg.Connection, strategy: str,
                         people: dict[str, Persona]) -> list[Case]:
    """Every statement the load runs, each with the persona that makes it hard."""
    reader, celebrity = people["power_reader"].user_id, people["celebrity"].user_id
    ordinary, popular = people["ordinary"].user_id, people["popular"].user_id
    page = first_page(PAGE)
    newest = _one(conn, "SELECT id FROM tweets WHERE user_id = %s AND body IS NOT NULL "
                        "ORDER BY created_at DESC, id DESC LIMIT 1", celebrity) or 1
    thread = _one(conn, "SELECT id FROM tweets t WHERE NOT EXISTS (SELECT 1 FROM users u "
                        "WHERE u.id = t.user_id AND u.is_protected) "
                        "ORDER BY reply_count DESC, id LIMIT 1") or 1
    followee = _one(conn, "SELECT followee_id FROM following WHERE follower_id = %s "
                          "ORDER BY followee_id LIMIT 1", reader) or celebrity
    stranger = _one(conn, "SELECT u.id FROM users u WHERE NOT u.is_protected AND u.id <> %s "
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
             token_hash=hashlib.sha256(stamp.encode()).digest()),
        case("authenticate", "ordinary", "a token lookup (every authenticated request)",
             token_hash=hashlib.sha256(b"no such token").digest()),
    ]


def enable_nested_plans(conn: psycopg.Connection) -> str | None:
    """Load auto_explain into this session; return why not when it cannot be loaded."""
    try:
        with conn.transaction():
            conn.execute("LOAD 'auto_explain'")
    except psycopg.Error as exc:
        return f"auto_explain could not be loaded ({first_line(exc)})"
    for name, value in AUTO_EXPLAIN_SETTINGS.items():
        conn.execute(sql.SQL("SET {} = {}").format(sql.Identifier(*name.split(".")),
                                                    sql.Literal(value)))
    return None


def set_session(conn: psycopg.Connection, settings: dict[str, str]) -> None:
    """Give the session the same timeline settings the API's connections have."""
    for name, value in settings.items():
        conn.execute("SELECT set_config(%s, %s, false)", (name, value))


def _nested(notices: list[str]) -> list[dict[str, Any]]:
    """Group the inner statements' plans by text: calls, total time and the slowest plan."""
    groups: dict[str, dict[str, Any]] = {}
    for message in notices:
        match = NOTICE_PLAN.match(message)
        if not match:
            continue
        duration, document = float(match.group(1)), json.loads(match.group(2))
        text = document.get("Query Text", "").strip()
        if text.upper().startswith("EXPLAIN"):
            continue   # the outer statement: already captured by EXPLAIN itself
        group = groups.setdefault(text, {"query": text, "calls": 0, "total_ms": 0.0,
                                         "max_ms": -1.0, "plan": None})
        group["calls"] += 1
        group["total_ms"] += duration
        if duration > group["max_ms"]:
            group["max_ms"], group["plan"] = duration, document.get("Plan")
    return sorted(groups.values(), key=lambda g: g["total_ms"], reverse=True)


def explain_json(conn: psycopg.Connection, statement: str, params: dict[str, Any] | None = None,
                 options: str = EXPLAIN_OPTIONS) -> tuple[dict[str, Any], list[str]]:
    """EXPLAIN one statement in a rolled-back transaction; return its document and notices."""
    notices: list[str] = []

    def keep(diagnostic: psycopg.errors.Diagnostic) -> None:
        notices.append(diagnostic.message_primary or "")

    conn.add_notice_handler(keep)
    try:
        with conn.transaction(force_rollback=True):
            row = conn.execute(f"EXPLAIN ({options}) {statement}",  # type: ignore[arg-type]
                               params or {}).fetchone()
    finally:
        conn.remove_notice_handler(keep)
    assert row is not None
    document = row[0][0] if isinstance(row[0], list) else json.loads(row[0])[0]
    return document, notices


def capture(conn: psycopg.Connection, case: Case, nested: bool) -> dict[str, Any]:
    """Explain a case twice (cold, then warm) and keep the warm plan with its inner plans."""
    statement = case.sql or query(case.name)
    cold, _ = explain_json(conn, statement, case.params)
    warm, notices = explain_json(conn, statement, case.params)
    return {
        "name": case.name, "persona": case.persona, "description": case.description,
        "params": {k: v for k, v in case.params.items() if f"%({k})s" in statement},
        "cold_execution_ms": cold.get("Execution Time"),
        "execution_ms": warm.get("Execution Time"),
        "planning_ms": warm.get("Planning Time"),
        "settings": warm.get("Settings", {}),
        "plan": warm["Plan"],
        "nested": _nested(notices) if nested else [],
    }



def capture_plans(conn: psycopg.Connection, strategy: str, session: dict[str, str],
                  user: int | None = None, say: Say | None = None,
                  names: list[str] | None = None) -> dict[str, Any]:
    """Capture every representative case (or those of `names`); plans.json holds the result.

    `conn` must be a dedicated connection: its session settings are changed.
    """
    conn.autocommit = True
    people = dataset_personas(conn, user)
    set_session(conn, session)
    problem = enable_nested_plans(conn)
    cases = representative_cases(conn, strategy, people)
    if names:
        known = sorted({case.name for case in cases})
        unknown = [name for name in names if name not in known]
        if unknown:
            raise LabError(f"cannot explain {', '.join(unknown)} with strategy {strategy}: "
                           f"choose among {', '.join(known)}")
        cases = [case for case in cases if case.name in names]
    plans = []
    try:
        for number, case in enumerate(cases, 1):
            if say:
                say(f"  plan {number}/{len(cases)}: {case.name} ({case.persona})")
            try:
                plans.append(capture(conn, case, nested=problem is None))
            except psycopg.Error as exc:
                plans.append({"name": case.name, "persona": case.persona,
                              "description": case.description, "error": str(exc).strip()})
    finally:
        if problem is None:
            # What the session runs next (hypothetical indexes, the naive schema) is not
            # to be explained: auto_explain would plan around hypopg's phantom indexes.
            conn.execute("SET auto_explain.log_min_duration = -1")
    version = _one(conn, "SHOW server_version")
    return {"strategy": strategy, "server_version": version,
            "personas": {k: vars(v) for k, v in people.items()},
            "nested_plans": problem or "captured with auto_explain",
            "captured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "plans": plans}
