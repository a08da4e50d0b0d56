"""A plan's signature: its node types, relations and indexes, without the numbers.

Two runs with the same signature ran the same algorithm; a changed signature
is what a regression hunt looks at first.
"""

from __future__ import annotations

import hashlib
from typing import Any

from lab.plans.tree import label, walk


def outline(plan: dict[str, Any]) -> list[str]:
    """The indented node labels of a plan."""
    return ["  " * depth + label(node) for depth, node, _ in walk(plan)]


def plan_signatures(plans: dict[str, Any] | None) -> dict[str, dict[str, Any]]:
    """{"statement (persona)": {"id", "outline", "execution_ms"}} for every captured plan."""
    signatures: dict[str, dict[str, Any]] = {}
    for captured in (plans or {}).get("plans", []):
        if "plan" in captured:
            lines = outline(captured["plan"])
            # The inner statements in a fixed order: they are captured by time spent, which
            # varies from run to run, and the same plans in another order are the same plan
            # (identical runs had been flagged for it).
            inner = sorted((str(nested.get("query", "")), outline(nested["plan"]))
                           for nested in captured.get("nested", []) if nested.get("plan"))
            for _, nested_lines in inner:
                lines += ["  inner: " + line for line in nested_lines]
            signatures[f"{captured['name']} ({captured['persona']})"] = {
                "id": hashlib.sha1("\n".join(lines).encode()).hexdigest()[:10],
                "outline": lines, "execution_ms": captured.get("execution_ms")}
    return signatures
