"""Join pg_stat_statements rows to the lab's named statements and the requests that issue them.

pg_stat_statements replaces constants with $n and drops leading comments;
auto_explain and queries.sql keep them. Both sides are reduced to the same
skeleton (comments, constants and placeholders removed, whitespace folded)
before they are compared.
"""

from __future__ import annotations

import re
from typing import Any

from lab.queries import load_queries

# Named statements served by routes of another name (one name per operation
# otherwise: the request, the route and the statement share it).
REQUESTS_BY_STATEMENT = {
    "home_timeline_pull": ["home_timeline", "home_timeline_next_page"],
    "home_timeline_push": ["home_timeline", "home_timeline_next_page"],
    "home_timeline_hybrid": ["home_timeline", "home_timeline_next_page"],
    "post_tweet": ["post_tweet", "reply", "quote", "retweet"],
    "follow": ["follow", "follow_popular"],
    "decide_follow_request": ["approve_follow_request"],
    "authenticate": ["every request with a token"],
}
COMMENT = re.compile(r"--[^\n]*")
PLACEHOLDER = re.compile(
    r"%\(\w+\)s|\$\d+|\b(?:true|false|null)\b|'(?:[^']|'')*'|\b\d+(?:\.\d+)?\b")


def skeleton(text: str) -> str:
    """The statement with comments, constants and placeholders gone, spaces folded."""
    text = PLACEHOLDER.sub("?", COMMENT.sub(" ", text))
    return " ".join(text.split()).rstrip(";").strip().lower()


def requests_for(statement: str) -> list[str]:
    return REQUESTS_BY_STATEMENT.get(statement, [statement])


TIMELINES = ("home_timeline_pull", "home_timeline_push", "home_timeline_hybrid")


def label_statements(statements: list[dict[str, Any]], plans: list[dict[str, Any]],
                     strategy: str | None = None) -> list[dict[str, Any]]:
    """Add `statement` (the named one, or the one it runs inside) and `requests` to each row.

    push and hybrid differ by one constant, which pg_stat_statements hides:
    the run's strategy says which of them it was.
    """
    named = {skeleton(sql): name for name, sql in load_queries().items()
             if not (strategy and name in TIMELINES and name != f"home_timeline_{strategy}")}
    inside: dict[str, str] = {}
    for captured in plans:
        for inner in captured.get("nested", []):
            inside.setdefault(skeleton(inner["query"]), captured["name"])
    labelled = []
    for row in statements:
        shape = skeleton(row["query"])
        if shape in named:
            name, nested = named[shape], False
        elif shape in inside:
            name, nested = inside[shape], True
        else:
            name, nested = None, False
        labelled.append({**row, "statement": name, "nested": nested,
                         "requests": requests_for(name) if name else []})
    return labelled
