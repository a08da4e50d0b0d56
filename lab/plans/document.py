"""The plan document (SC6): capture, analyse, test suggested indexes, compare with the load.

The result is a run folder's plans.json (and `lab explain`'s); reports render
it without a database.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import psycopg

from lab.config import Settings
from lab.plans.capture import capture_plans
from lab.plans.findings import Finding, analyse_capture, growth_under_load
from lab.plans.hypothetical import try_suggested_indexes
from lab.plans.statements import label_statements
from lab.progress import Say


def load_growth(plans: list[dict[str, Any]], statements: list[dict[str, Any]],
                strategy: str) -> list[Finding]:
    """Named statements whose mean time under load far exceeds their time alone."""
    calls: dict[str, float] = defaultdict(float)
    total_ms: dict[str, float] = defaultdict(float)
    for row in label_statements(statements, plans, strategy):
        if row["statement"] and not row["nested"]:
            calls[row["statement"]] += row["calls"]
            total_ms[row["statement"]] += row["total_exec_time"]
    alone: dict[str, float] = {}
    for captured in plans:
        if captured.get("execution_ms") is not None:
            name = captured["name"]
            alone[name] = max(alone.get(name, 0.0), float(captured["execution_ms"]))
    findings = []
    for name, count in calls.items():
        if name in alone and count:
            finding = growth_under_load(name, total_ms[name] / count, alone[name], int(count))
            if finding:
                findings.append(finding)
    return findings


def plan_document(conn: psycopg.Connection, strategy: str, settings: Settings,
                  statements: list[dict[str, Any]] | None = None, user: int | None = None,
                  say: Say | None = None, names: list[str] | None = None) -> dict[str, Any]:
    """Capture every plan, find what to improve, try the suggested indexes hypothetically."""
    document = capture_plans(conn, strategy, settings.timeline_session(strategy), user, say,
                             names)
    findings: list[Finding] = []
    seen: set[tuple[str, str, str, str]] = set()
    for captured in document["plans"]:
        for finding in analyse_capture(captured):
            key = (finding.statement, finding.kind, finding.node, finding.inner_query)
            if key not in seen:     # the same plan problem seen with a second persona
                seen.add(key)
                findings.append(finding)
    findings.extend(load_growth(document["plans"], statements or [], strategy))
    if statements is not None:
        document["coverage"] = coverage(document["plans"], statements, strategy)
    document["hypopg"] = try_suggested_indexes(conn, findings) or (
        "suggested indexes tested with hypopg" if any(f.index_sql for f in findings)
        else "no finding suggested an index")
    document["findings"] = [f.as_dict() for f in findings]
    return document


def coverage(plans: list[dict[str, Any]], statements: list[dict[str, Any]],
             strategy: str) -> dict[str, Any]:
    """Which named statements the load ran (pg_stat_statements' delta, joined to
    lab/queries.sql) and which of them no plan explains: what SC6 is judged on. Statements
    of no name (the driver's own, a sampler's) are counted, not judged."""
    labelled = label_statements(statements, [], strategy)
    ran = sorted({row["statement"] for row in labelled
                  if row["statement"] and row["calls"] > 0})
    explained = {p["name"] for p in plans if "plan" in p}
    unnamed = [row for row in labelled if not row["statement"] and row["calls"] > 0]
    return {"ran": ran, "unexplained": [name for name in ran if name not in explained],
            "unnamed": len(unnamed),
            "unnamed_ms": round(sum(row["total_exec_time"] for row in unnamed), 1)}
