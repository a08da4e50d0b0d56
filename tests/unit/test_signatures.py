"""A plan's signature names the algorithm, not the order its inner statements were captured
in: identical runs had been flagged because the function-internal plans came back in another
order (they are captured by time spent)."""

from __future__ import annotations

from typing import Any

from lab.report.signatures import plan_signatures


def scan(index: str, relation: str) -> dict[str, Any]:
    return {"Node Type": "Index Scan", "Index Name": index, "Relation Name": relation}


def captured(nested: list[dict[str, Any]]) -> dict[str, Any]:
    return {"plans": [{"name": "like", "persona": "ordinary",
                       "plan": {"Node Type": "Result"}, "nested": nested}]}


LOCK_USER = {"query": "SELECT 1 FROM users x WHERE id = $1 FOR SHARE",
             "plan": {"Node Type": "LockRows", "Plans": [scan("users_pkey", "users")]}}
LOCK_TWEET = {"query": "SELECT 1 FROM tweets x WHERE id = $1 FOR SHARE",
              "plan": {"Node Type": "LockRows", "Plans": [scan("tweets_pkey", "tweets")]}}


def test_the_same_inner_plans_in_another_order_have_one_signature() -> None:
    first = plan_signatures(captured([LOCK_USER, LOCK_TWEET]))["like (ordinary)"]
    second = plan_signatures(captured([LOCK_TWEET, LOCK_USER]))["like (ordinary)"]
    assert first["id"] == second["id"]


def test_another_inner_plan_changes_the_signature() -> None:
    seq = {"query": LOCK_TWEET["query"],
           "plan": {"Node Type": "LockRows", "Plans": [{"Node Type": "Seq Scan",
                                                        "Relation Name": "tweets"}]}}
    indexed = plan_signatures(captured([LOCK_USER, LOCK_TWEET]))["like (ordinary)"]
    scanned = plan_signatures(captured([LOCK_USER, seq]))["like (ordinary)"]
    assert indexed["id"] != scanned["id"]
    assert "  inner:   Seq Scan on tweets" in scanned["outline"]
