"""A plan's shape: its node types, relations and indexes, without the numbers.

Two runs with the same shape ran the same algorithm; a changed shape is what
a regression hunt looks at first.
"""

from __future__ import annotations

import hashlib
from typing import Any

from lab.plans.tree import label, walk


def shape(plan: dict[str, Any]) -> list[str]:
    """The indented node labels of a plan."""
    return ["  " * depth + label(node) for depth, node, _ in walk(plan)]


def shape_id(plan: dict[str, Any]) -> str:
    return hashlib.sha1("\n".join(shape(plan)).encode()).hexdigest()[:10]


def plan_shapes(plans: dict[str, Any] | None) -> dict[str, dict[str, Any]]:
    """{"statement (persona)": {"id", "shape", "execution_ms"}} for every captured plan."""
    shapes: dict[str, dict[str, Any]] = {}
    for captured in (plans or {}).get("plans", []):
        if "plan" in captured:
            lines = shape(captured["plan"])
            for inner in captured.get("nested", []):
                if inner.get("plan"):
                    lines += ["  inner: " + line for line in shape(inner["plan"])]
            shapes[f"{captured['name']} ({captured['persona']})"] = {
                "id": hashlib.sha1("\n".join(lines).encode()).hexdigest()[:10],
                "shape": lines, "execution_ms": captured.get("execution_ms")}
    return shapes
