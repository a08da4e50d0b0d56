"""Automatic plan insights: each finding names the node, the evidence and what to try.

The rules are the ones a database engineer applies by eye to EXPLAIN
(ANALYZE, BUFFERS) output; thresholds keep the noise of small plans out.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

from lab.plans.tree import Node, actual_rows, label, loops, walk

SEQ_SCAN_MIN_ROWS = 10_000        # rows a sequential scan reads before it is worth a look
MISESTIMATE_RATIO = 10.0
MISESTIMATE_MIN_ROWS = 100        # ignore 1-vs-12 on tiny nodes
HEAP_FETCH_MIN = 100
HEAP_FETCH_MIN_SHARE = 0.1
MANY_LOOPS = 1000
READ_MIN_BLOCKS = 1000
READ_MIN_SHARE = 0.2
GROWTH_RATIO = 3.0                # mean under load vs the same statement alone
GROWTH_MIN_MS = 1.0
COMPARISON = re.compile(r"(?<![.\w])([a-z_][a-z0-9_]*)\s*(=|<>|<=|>=|<|>)\s*")
STRING_LITERAL = re.compile(r"'(?:[^']|'')*'")
FOREIGN_REFERENCE = re.compile(r"\$\d|\b[a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*\b")


@dataclass
class Finding:
    kind: str
    severity: str                 # "warning" (likely costs time) or "info" (worth knowing)
    node: str
    evidence: str
    suggestion: str
    statement: str = ""           # the named statement the plan belongs to
    inner_query: str = ""         # set when the node is in a statement inside a function
    index_sql: str | None = None  # a candidate index, for a hypothetical test
    probe_sql: str | None = None  # a query the candidate index would serve
    hypothetical: dict[str, Any] | None = field(default=None)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _rows_read(node: Node) -> float:
    per_loop = (actual_rows(node) or 0.0) + float(node.get("Rows Removed by Filter") or 0)
    return per_loop * max(loops(node), 1)


def _index_columns(condition: str | None) -> tuple[list[str], list[str]]:
    """Columns a B-tree could serve: those compared with =, then those compared by range."""
    equal: list[str] = []
    ranged: list[str] = []
    for column, operator in COMPARISON.findall(condition or ""):
        if operator == "<>" or column in ("and", "or", "not") or column in equal + ranged:
            continue
        (equal if operator == "=" else ranged).append(column)
    return equal, ranged


def _probe(relation: str, condition: str, equal: list[str]) -> str | None:
    """A query the candidate index would serve: the filter itself when it stands alone,
    else each equality against a value from the table."""
    if not FOREIGN_REFERENCE.search(STRING_LITERAL.sub("''", condition)):
        return f"SELECT 1 FROM {relation} WHERE {condition}"
    if equal:
        return (f"SELECT 1 FROM {relation} WHERE "
                + " AND ".join(f"{c} = (SELECT {c} FROM {relation} LIMIT 1)" for c in equal))
    return None


def _seq_scan(node: Node) -> Finding | None:
    if node["Node Type"] != "Seq Scan" or actual_rows(node) is None:
        return None
    read = _rows_read(node)
    if read < SEQ_SCAN_MIN_ROWS:
        return None
    relation = node.get("Relation Name", "?")
    schema = node.get("Schema")
    qualified = f"{schema}.{relation}" if schema else relation
    condition = node.get("Filter") or ""
    equal, ranged = _index_columns(condition)
    columns = equal + ranged[:1]    # a B-tree serves equalities, then one range
    kept = (actual_rows(node) or 0) * max(loops(node), 1)
    evidence = f"read {read:,.0f} rows"
    if condition:
        evidence += f" to keep {kept:,.0f} (filter {condition})"
    probe = _probe(qualified, condition, equal) if columns else None
    if columns and probe:
        index = f"CREATE INDEX ON {qualified} ({', '.join(columns)})"
        return Finding("seq_scan", "warning", label(node), evidence,
                       f"an index on ({', '.join(columns)}) lets the scan read only matching "
                       "rows", index_sql=index, probe_sql=probe)
    return Finding("seq_scan", "warning", label(node), evidence,
                   "the whole table is read: add a WHERE the query can use through an index, "
                   "or keep the result (a counter, a materialized view)")


def _misestimate_ratio(node: Node) -> float:
    """Signed ratio: > 1 an underestimate, < -1 an overestimate, 0 when not comparable."""
    actual = actual_rows(node)
    if actual is None or loops(node) == 0:
        return 0.0
    estimate = float(node.get("Plan Rows") or 0)
    high, low = max(actual, estimate), max(min(actual, estimate), 1.0)
    if high < MISESTIMATE_MIN_ROWS:
        return 0.0
    return high / low if actual > estimate else -high / low


def _misestimate(node: Node, under_limit: bool) -> Finding | None:
    ratio = _misestimate_ratio(node)
    if abs(ratio) < MISESTIMATE_RATIO:
        return None
    if ratio < 0 and under_limit:
        return None   # a LIMIT above stopped the node early: the estimate is for a full run
    inherited = [_misestimate_ratio(child) for child in node.get("Plans", [])]
    if any(abs(r) >= MISESTIMATE_RATIO and (r > 0) == (ratio > 0) for r in inherited):
        return None   # reported where it starts, not on every node it propagates to
    estimate, actual = float(node.get("Plan Rows") or 0), actual_rows(node) or 0.0
    evidence = (f"estimated {estimate:,.0f} rows, got {actual:,.0f} per loop "
                f"({abs(ratio):,.0f}x {'over' if ratio < 0 else 'under'}estimate)")
    if node["Node Type"] == "Function Scan":
        return Finding("misestimate", "info", label(node), evidence,
                       f"declare the function's typical result size (ALTER FUNCTION "
                       f"{node.get('Function Name', '...')} ROWS {max(actual, 1):,.0f}) so "
                       "plans around it are sized right")
    return Finding("misestimate", "warning", label(node), evidence,
                   "refresh statistics (ANALYZE), raise the column's statistics target, or add "
                   "extended statistics (CREATE STATISTICS) for correlated columns")


def _limited(plan: Node) -> set[int]:
    """Ids of the nodes below a Limit (they may legitimately stop before their estimate)."""
    inside: set[int] = set()
    for _, node, parent in walk(plan):
        if parent is not None and (parent["Node Type"] == "Limit" or id(parent) in inside):
            inside.add(id(node))
    return inside


def _spill(node: Node, work_mem: str | None) -> Finding | None:
    mem = f" (work_mem {work_mem})" if work_mem else ""
    if node.get("Sort Space Type") == "Disk" or "external" in str(node.get("Sort Method", "")):
        used = node.get("Sort Space Used")
        return Finding("spill", "warning", label(node),
                       f"{node.get('Sort Method')} used {used} kB of disk{mem}",
                       f"raise work_mem above {used} kB for this query (SET LOCAL), or sort "
                       "fewer rows: an index in the sort order avoids the sort")
    if int(node.get("Hash Batches") or 1) > 1:
        return Finding("spill", "warning", label(node),
                       f"hash split into {node['Hash Batches']} batches "
                       f"(peak {node.get('Peak Memory Usage')} kB){mem}",
                       "raise work_mem (or hash_mem_multiplier) so the hash fits in one batch")
    if int(node.get("Temp Written Blocks") or 0) > 0 and node["Node Type"] in (
            "Sort", "Hash", "Aggregate", "Materialize", "Incremental Sort"):
        return Finding("spill", "warning", label(node),
                       f"wrote {node['Temp Written Blocks']:,} temp blocks{mem}",
                       "raise work_mem for this query or reduce the rows it processes")
    return None


def _heap_fetches(node: Node) -> Finding | None:
    if node["Node Type"] != "Index Only Scan":
        return None
    fetches = int(node.get("Heap Fetches") or 0)
    returned = (actual_rows(node) or 0) * max(loops(node), 1)
    if fetches < HEAP_FETCH_MIN or fetches < HEAP_FETCH_MIN_SHARE * max(returned, 1):
        return None
    return Finding("heap_fetches", "warning", label(node),
                   f"{fetches:,} heap fetches for {returned:,.0f} rows: the visibility map is "
                   "stale, so the 'index-only' scan visits the table",
                   f"VACUUM {node.get('Relation Name', 'the table')} (or tune autovacuum for "
                   "it) so pages are marked all-visible")


def _many_loops(node: Node, parent: Node | None) -> Finding | None:
    if loops(node) < MANY_LOOPS or (parent is not None and loops(parent) >= MANY_LOOPS):
        return None   # report only where the repetition starts, not every node below it
    kind = parent["Node Type"] if parent else "its parent"
    return Finding("many_loops", "info", label(node),
                   f"executed {loops(node):,} times under {kind}, "
                   f"{float(node.get('Actual Total Time') or 0):.3f} ms each",
                   "each loop is cheap but they add up: a join that reads the set once (hash "
                   "or merge), a precomputed result (fan-out on write), or fewer outer rows")


def _buffers(plan: Node) -> Finding | None:
    hit, read = int(plan.get("Shared Hit Blocks") or 0), int(plan.get("Shared Read Blocks") or 0)
    if read < READ_MIN_BLOCKS or read / max(hit + read, 1) < READ_MIN_SHARE:
        return None
    return Finding("buffers_read", "warning", label(plan),
                   f"{read:,} blocks read outside shared buffers against {hit:,} hits "
                   f"({read / (hit + read):.0%} of {(hit + read) * 8 / 1024:,.1f} MB touched)",
                   "the working set does not fit shared_buffers: raise it, or touch fewer "
                   "pages (covering index, narrower rows)")


def analyse_plan(plan: Node, work_mem: str | None = None) -> list[Finding]:
    """Every finding in one plan tree."""
    findings = []
    limited = _limited(plan)
    for _, node, parent in walk(plan):
        for finding in (_seq_scan(node), _misestimate(node, id(node) in limited),
                        _spill(node, work_mem), _heap_fetches(node), _many_loops(node, parent)):
            if finding:
                findings.append(finding)
    if (buffers := _buffers(plan)) is not None:
        findings.append(buffers)
    return findings


def analyse_capture(captured: dict[str, Any]) -> list[Finding]:
    """Findings of a captured statement: its own plan and the plans of the statements inside."""
    if "plan" not in captured:
        return []
    work_mem = captured.get("settings", {}).get("work_mem")
    findings = analyse_plan(captured["plan"], work_mem)
    for inner in captured.get("nested", []):
        for finding in analyse_plan(inner["plan"], work_mem) if inner.get("plan") else []:
            finding.inner_query = inner["query"]
            findings.append(finding)
    for finding in findings:
        finding.statement = captured["name"]
    return findings


def growth_under_load(statement: str, mean_under_load_ms: float, alone_ms: float,
                      calls: int) -> Finding | None:
    """A statement much slower under load than alone points at contention, not at its plan."""
    if mean_under_load_ms - alone_ms < GROWTH_MIN_MS or \
            mean_under_load_ms < GROWTH_RATIO * max(alone_ms, 0.001):
        return None
    ratio = mean_under_load_ms / max(alone_ms, 0.001)
    return Finding("grew_under_load", "warning", statement,
                   f"mean {mean_under_load_ms:.2f} ms over {calls:,} calls under load against "
                   f"{alone_ms:.2f} ms alone after the run ({ratio:.1f}x)",
                   "the plan is not the problem: look at lock waits, pool waits and CPU in the "
                   "charts (contention, commit latency, a saturated core)", statement=statement)
