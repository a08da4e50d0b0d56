"""Options shared by several commands, and the parsers of their text forms.

Parsers only split text; the configuration models (lab.runconfig) check
the values, once, when they are built.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from lab.config import default_api_workers
from lab.errors import LabError

DbOption = Annotated[str | None, typer.Option(
    "--db", help="embedded (default), testcontainers, or a postgresql:// URL. "
                 "Default: LAB_DATABASE_URL if set, else embedded.")]
DatabaseOption = Annotated[str | None, typer.Option(
    "--database", help="Database to use on the server (default LAB_DB_NAME, timeline_lab).")]
ReportsOption = Annotated[Path, typer.Option(help="Where run folders are written.")]
StrategyOption = Annotated[str, typer.Option(help="Home timelines: pull, push or hybrid.")]
ScaleOption = Annotated[str, typer.Option(help="Dataset: tiny, small, medium, large.")]

# Options shared by `lab run` and `lab ui` (the same set-up before the load).
ScenarioOption = Annotated[str, typer.Option(
    help="mixed, seed, smoke, posting, registration, storm, timeline or viral "
         "(locustfiles/scenarios.toml).")]
UsersOption = Annotated[int, typer.Option(min=1, help="Concurrent simulated users.")]
SpawnRateOption = Annotated[float, typer.Option(min=0.1, help="Users started per second.")]
ApiWorkersOption = Annotated[int, typer.Option(min=1, help="uvicorn worker processes "
                                                           "(default: one per CPU).")]
DEFAULT_API_WORKERS = default_api_workers()
LocustWorkersOption = Annotated[int, typer.Option(
    min=0, help="Locust worker processes (0: one process; N: a master and N workers over "
                "loopback).")]


def duration_s(text: str, option: str) -> int:
    """Seconds from '90', '90s', '2m' or '1h' (Locust's --run-time spelling)."""
    units = {"s": 1, "m": 60, "h": 3600}
    try:
        if text[-1:] in units:
            return int(float(text[:-1]) * units[text[-1]])
        return int(text)
    except ValueError:
        raise LabError(f"{option} {text!r}: use seconds or a number with s, m or h") from None


def thresholds(items: list[str]) -> dict[str, float]:
    """{"SC1": 20.0} from ["SC1=20"] (the keys are checked by RunConfig)."""
    parsed = {}
    for item in items:
        key, _, value = item.partition("=")
        if not key or not value:
            raise LabError(f"--threshold {item!r}: use KEY=VALUE, e.g. SC1=20")
        try:
            parsed[key] = float(value)
        except ValueError:
            raise LabError(f"--threshold {item!r}: {value!r} is not a number") from None
    return parsed


def words(text: str) -> list[str]:
    """The comma-separated words of an option."""
    return [x.strip() for x in text.split(",") if x.strip()]


def whole_numbers(text: str, option: str) -> list[int]:
    try:
        return [int(x) for x in words(text)]
    except ValueError:
        raise LabError(f"{option} {text!r}: give whole numbers separated by commas") from None
