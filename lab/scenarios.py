"""The scenario configuration (locustfiles/scenarios.toml): personas, weights, pacing, criteria.

Configuration, not load code: the run configuration checks scenario names
here, Locust processes build their user classes from it, reports quote it.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lab.errors import LabError
from lab.resources import locustfiles_dir

CONFIG_NAME = "scenarios.toml"


@dataclass(frozen=True)
class Persona:
    name: str
    weight: int
    tasks: dict[str, int]
    wait_s: tuple[float, float] | None
    throughput_per_s: float | None


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    criteria: list[str]
    personas: list[Persona]
    paced_request: str | None    # the request whose rate is held constant (checked for lag)
    # The connection check (SC4) the scenario runs after its load: ConnectionsConfig's fields.
    connection_check: dict[str, Any] | None = None
    compare_naive: bool = False  # the naive schema's figures for the same questions, beside

    @property
    def locustfile(self) -> Path:
        return locustfiles_dir() / f"{self.name}.py"

    def scheduled_rate(self, users: float) -> float | None:
        """`paced_request`s/s the paced personas should send at `users` users (None: the
        scenario holds no request's rate). A paced persona with other tasks too sends the
        paced request its tasks' share of the time; Locust's split of users by weight is
        taken as exact (at a few users it is rounded)."""
        paced = [p for p in self.personas if p.throughput_per_s]
        if not paced or not self.paced_request:
            return None
        total_weight = sum(p.weight for p in self.personas)
        return sum(users * p.weight / total_weight * (p.throughput_per_s or 0)
                   * p.tasks.get(self.paced_request, 0) / sum(p.tasks.values())
                   for p in paced)


def _persona(scenario: str, name: str, raw: dict[str, Any]) -> Persona:
    where = f"{CONFIG_NAME}: scenarios.{scenario}.personas.{name}"
    wait = raw.get("wait_s")
    rate = raw.get("throughput_per_s")
    if (wait is None) == (rate is None):
        raise LabError(f"{where}: give exactly one of wait_s or throughput_per_s")
    if wait is not None and (len(wait) != 2 or not 0 <= wait[0] <= wait[1]):
        raise LabError(f"{where}: wait_s must be [min, max] with 0 <= min <= max")
    tasks = raw.get("tasks") or {}
    if not tasks or any(not isinstance(w, int) or w < 1 for w in tasks.values()):
        raise LabError(f"{where}: tasks must map action names to positive integer weights")
    return Persona(name, int(raw.get("weight", 1)), dict(tasks),
                   (float(wait[0]), float(wait[1])) if wait else None,
                   float(rate) if rate else None)


def load_scenarios(path: Path | None = None) -> dict[str, Scenario]:
    """Parse and check the whole file; errors name the scenario and persona."""
    raw = tomllib.loads((path or locustfiles_dir() / CONFIG_NAME).read_text())["scenarios"]
    return {
        name: Scenario(name, body.get("description", ""), list(body.get("criteria", [])),
                       [_persona(name, p, spec) for p, spec in body["personas"].items()],
                       body.get("paced_request"), body.get("connection_check"),
                       bool(body.get("compare_naive", False)))
        for name, body in raw.items()
    }


def get_scenario(name: str) -> Scenario:
    scenarios = load_scenarios()
    try:
        return scenarios[name]
    except KeyError:
        raise LabError(f"unknown scenario {name!r}; choose one of: "
                       f"{', '.join(scenarios)}") from None
