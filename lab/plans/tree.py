"""Walk an EXPLAIN (FORMAT JSON) plan: node labels, inclusive and self time, rows per loop."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

Node = dict[str, Any]


def walk(plan: Node, depth: int = 0, parent: Node | None = None
         ) -> Iterator[tuple[int, Node, Node | None]]:
    """Yield (depth, node, parent) depth-first, in the order EXPLAIN prints them."""
    yield depth, plan, parent
    for child in plan.get("Plans", []):
        yield from walk(child, depth + 1, plan)


def loops(node: Node) -> int:
    return int(node.get("Actual Loops") or 0)


def inclusive_ms(node: Node) -> float:
    """Time spent in the node and below it over all its loops."""
    return float(node.get("Actual Total Time") or 0.0) * max(loops(node), 1)


def self_ms(node: Node) -> float:
    """Time spent in the node itself: its inclusive time minus its children's."""
    below = sum(inclusive_ms(child) for child in node.get("Plans", []))
    return max(inclusive_ms(node) - below, 0.0)


def actual_rows(node: Node) -> float | None:
    """Rows per loop (what EXPLAIN compares with the estimate); None without ANALYZE."""
    value = node.get("Actual Rows")
    return None if value is None else float(value)


def label(node: Node) -> str:
    """What EXPLAIN's text format prints for the node: type, index, relation and alias."""
    text = node["Node Type"]
    if node.get("Strategy") and node["Node Type"] in ("Aggregate", "SetOp"):
        text = f"{node['Strategy']} {text}"
    if node.get("Scan Direction") == "Backward":
        text += " Backward"
    if node.get("Index Name"):
        text += f" using {node['Index Name']}"
    if node.get("Relation Name"):
        text += f" on {node['Relation Name']}"
        if node.get("Alias") and node["Alias"] != node["Relation Name"]:
            text += f" {node['Alias']}"
    elif node.get("Function Name"):
        text += f" on {node['Function Name']}"
    if node.get("Subplan Name"):
        text = f"{node['Subplan Name']}: {text}"
    return text


DETAIL_KEYS = ("Index Cond", "Recheck Cond", "Filter", "Join Filter", "Hash Cond", "Merge Cond",
               "Sort Key", "Group Key", "Sort Method", "Heap Fetches", "Rows Removed by Filter",
               "Hash Batches", "Peak Memory Usage", "Sort Space Used", "Sort Space Type")


def rows(plan: Node) -> list[dict[str, Any]]:
    """The plan as flat rows for a table, the slowest node (by self time) marked."""
    flat: list[dict[str, Any]] = []
    for depth, node, _ in walk(plan):
        flat.append({
            "depth": depth, "label": label(node),
            "parent_relationship": node.get("Parent Relationship"),
            "inclusive_ms": inclusive_ms(node), "self_ms": self_ms(node),
            "estimated_rows": node.get("Plan Rows"), "actual_rows": actual_rows(node),
            "loops": loops(node), "cost": node.get("Total Cost"),
            "hit": node.get("Shared Hit Blocks"), "read": node.get("Shared Read Blocks"),
            "temp_written": node.get("Temp Written Blocks"),
            "details": [(key, node[key]) for key in DETAIL_KEYS if node.get(key) not in (None, [])],
            "slowest": False,
        })
    if flat and any(row["self_ms"] for row in flat):
        max(flat, key=lambda row: row["self_ms"])["slowest"] = True
    return flat
