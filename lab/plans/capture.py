"""Capture EXPLAIN (ANALYZE, BUFFERS, SETTINGS, FORMAT JSON) of the named statements.

The API's statements call SQL and PL/pgSQL functions, whose inner statements
a plain EXPLAIN hides behind one Result node. auto_explain, loaded into the
capturing session only and told to report at NOTICE level, hands those inner
plans back to the client, so the report shows where the time really goes.
Every capture runs in a transaction that is rolled back: explaining a write
changes nothing.
"""

from __future__ import annotations

import json
import re
import time
from typing import Any

import psycopg
from psycopg import sql

from lab.errors import LabError, first_line
from lab.plans.cases import Case, dataset_personas, representative_cases, scalar
from lab.progress import Say
from lab.queries import query

EXPLAIN_OPTIONS = "ANALYZE, BUFFERS, SETTINGS, FORMAT JSON"
AUTO_EXPLAIN_SETTINGS = {
    "auto_explain.log_min_duration": "0", "auto_explain.log_analyze": "on",
    "auto_explain.log_buffers": "on", "auto_explain.log_nested_statements": "on",
    "auto_explain.log_format": "json", "auto_explain.log_level": "notice",
}
NOTICE_PLAN = re.compile(r"^duration: ([\d.]+) ms\s+plan:\s*(\{.*\})\s*$", re.DOTALL)


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
    version = scalar(conn, "SHOW server_version")
    return {"strategy": strategy, "server_version": version,
            "personas": {k: vars(v) for k, v in people.items()},
            "nested_plans": problem or "captured with auto_explain",
            "captured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "plans": plans}
