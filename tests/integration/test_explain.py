"""Plan capture of the named statements on the seeded graph (real EXPLAIN ANALYZE)."""

from __future__ import annotations

import json

import pytest

from lab.config import Settings
from lab.pg.server import PgServer
from lab.plans.capture import capture_plans
from lab.plans.cases import dataset_personas, representative_cases
from lab.plans.document import coverage, plan_document
from lab.queries import load_queries

STRATEGIES = ["pull", "push", "hybrid"]


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_every_statement_the_load_runs_is_captured(pg_server: PgServer, seeded_copy: str,
                                                   strategy: str) -> None:
    with pg_server.connect(seeded_copy) as conn:
        plans = capture_plans(conn, strategy, Settings().timeline_session(strategy))
    failed = {p["name"]: p["error"] for p in plans["plans"] if "error" in p}
    assert failed == {}
    names = {p["name"] for p in plans["plans"]}
    # Every named statement of lab/queries.sql (the other strategies' timelines aside): SC6
    # explained 16 cases, and unlike, follow requests, decisions, undo-retweet, delete,
    # remove-follower and profile updates were never explained.
    others = {f"home_timeline_{s}" for s in STRATEGIES if s != strategy}
    assert names == set(load_queries()) - others
    pages = [p for p in plans["plans"] if p["name"] == f"home_timeline_{strategy}"
             and p["persona"] == "power_reader (page 2)"]
    assert len(pages) == 1 and pages[0]["params"]["before_id"] < 2**62
    timeline = next(p for p in plans["plans"] if p["name"] == f"home_timeline_{strategy}")
    assert timeline["persona"] == "power_reader" and timeline["execution_ms"] > 0
    assert plans["personas"]["power_reader"]["following"] >= 1000
    # The timeline's real work happens inside functions: auto_explain brings it back.
    assert timeline["nested"], plans["nested_plans"]
    assert any("tweets" in inner["query"] or "home_timeline" in inner["query"]
               for inner in timeline["nested"])


def test_capturing_writes_changes_nothing(pg_server: PgServer, seeded_copy: str) -> None:
    """EXPLAIN ANALYZE executes the statement; every capture is rolled back."""
    count = ("SELECT (SELECT count(*) FROM tweets), (SELECT count(*) FROM following), "
             "(SELECT count(*) FROM users), (SELECT count(*) FROM home_timeline), "
             "(SELECT sum(followers_count) FROM users)")
    with pg_server.connect(seeded_copy) as conn:
        before = conn.execute(count).fetchone()
        conn.commit()
        capture_plans(conn, "push", Settings().timeline_session("push"),
                      names=["post_tweet", "follow", "unfollow", "register_user", "like"])
        after = conn.execute(count).fetchone()
    assert before == after


def test_the_seed_query_is_flagged_and_the_cases_cover_each_persona(
        pg_server: PgServer, seeded_copy: str) -> None:
    with pg_server.connect(seeded_copy) as conn:
        people = dataset_personas(conn)
        cases = representative_cases(conn, "pull", people)
        conn.commit()
        evidence = plan_document(conn, "pull", Settings(), names=["home_timeline_seed"])
    assert {case.persona for case in cases} >= {"power_reader", "celebrity", "ordinary"}
    assert people["celebrity"].followers >= people["popular"].followers >= 1
    kinds = {f["kind"] for f in evidence["findings"]}
    # The seed's IN-list form reads whole followee histories (seq scan or many loops).
    assert kinds & {"seq_scan", "many_loops", "spill"}, evidence["findings"]


def test_an_unknown_statement_name_is_a_clear_error(pg_server: PgServer,
                                                    seeded_copy: str) -> None:
    from lab.errors import LabError

    with pg_server.connect(seeded_copy) as conn, pytest.raises(LabError, match="choose among"):
        capture_plans(conn, "push", {}, names=["no_such_statement"])


# A statement run this many times inside one page runs once per tweet (pages hold 20 or 50).
PER_ROW_CALLS = 10


def _function_scans(node: dict) -> set[str]:
    """Names of the functions a plan calls through a Function Scan node, anywhere in it."""
    found = {node["Function Name"]} if node.get("Node Type") == "Function Scan" else set()
    for child in node.get("Plans", []):
        found |= _function_scans(child)
    return found


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_visibility_is_joined_not_called(pg_server: PgServer, seeded_db: str,
                                         strategy: str) -> None:
    """The rules are table functions the planner inlines (migration 0008): a page reads users
    and following itself. A rewrite the planner cannot inline (PL/pgSQL, a second statement,
    SECURITY DEFINER) would turn it back into one function execution per candidate row."""
    names = [f"home_timeline_{strategy}", "user_tweets", "thread"]
    with pg_server.connect(seeded_db) as conn:
        plans = capture_plans(conn, strategy, Settings().timeline_session(strategy), names=names)
    assert {p["name"] for p in plans["plans"]} == set(names)
    assert plans["nested_plans"] == "captured with auto_explain"
    rules = {"tweet_visibility", "account_visible"}
    for captured in plans["plans"]:
        documents = [captured["plan"]] + [inner["plan"] for inner in captured["nested"]]
        scanned = set().union(*(_function_scans(plan) for plan in documents))
        assert not scanned & rules, (captured["name"], scanned)
    user_tweets = next(p for p in plans["plans"] if p["name"] == "user_tweets")
    assert '"users"' in json.dumps(user_tweets["plan"]), "the account rule is not in the plan"


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_a_page_runs_no_statement_per_tweet(pg_server: PgServer, seeded_db: str,
                                            strategy: str) -> None:
    """A page is encoded in one pass (migration 0009): auto_explain sees every statement a
    page runs inside its functions, and none runs once per tweet of the page. Before 0009
    tweet_json ran as a statement of its own for every tweet, and the replied-to and quoted
    references were checked by one function execution each."""
    names = [f"home_timeline_{strategy}", "user_tweets", "thread"]
    with pg_server.connect(seeded_db) as conn:
        plans = capture_plans(conn, strategy, Settings().timeline_session(strategy), names=names)
    for captured in plans["plans"]:
        per_row = [(inner["calls"], inner["query"][:60]) for inner in captured["nested"]
                   if inner["calls"] >= PER_ROW_CALLS]
        assert not per_row, (captured["name"], per_row)


def test_sc6_coverage_joins_what_the_load_ran_to_the_plans(pg_server: PgServer,
                                                           seeded_copy: str) -> None:
    """The statements the load ran come from pg_stat_statements' rows joined to their names;
    a named statement that ran without a plan is unexplained."""
    ran = [{"query": load_queries()[name].replace("%(user_id)s", "$1"), "calls": calls,
            "total_exec_time": 1.0} for name, calls in (("unlike", 3), ("like", 5),
                                                        ("health", 0))]
    ran.append({"query": "SELECT pg_backend_pid()", "calls": 2, "total_exec_time": 0.5})
    plans = [{"name": "like", "plan": {}}]
    found = coverage(plans, ran, "push")
    assert found == {"ran": ["like", "unlike"], "unexplained": ["unlike"], "unnamed": 1,
                     "unnamed_ms": 0.5}
