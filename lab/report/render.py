"""Render the report templates into single self-contained HTML files."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2

import lab
from lab.plans.tree import rows as plan_rows


def _number(value: Any, digits: int = 1) -> str:
    if value is None:
        return "–"
    if isinstance(value, int | float):
        return f"{value:,.{digits}f}" if isinstance(value, float) else f"{value:,}"
    return str(value)


def _signed_percent(value: float | None) -> str:
    return "–" if value is None else f"{value:+.1%}"


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.PackageLoader("lab.report", "templates"),
                             autoescape=jinja2.select_autoescape(default=True,
                                                                 default_for_string=True),
                             undefined=jinja2.StrictUndefined, trim_blocks=True,
                             lstrip_blocks=True)
    env.filters["num"] = _number
    env.filters["pct"] = _signed_percent
    env.filters["plan_rows"] = plan_rows
    env.globals["lab_version"] = lab.__version__
    return env


def write_page(template: str, context: dict[str, Any], path: Path) -> Path:
    """Render `template` with `context` into `path` (atomically: readers never see half a page)."""
    html = environment().get_template(template).render(**context)
    partial = path.with_suffix(".partial")
    partial.write_text(html, encoding="utf-8")
    partial.replace(path)
    return path
