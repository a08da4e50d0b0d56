"""Load shapes (Locust LoadTestShape) as fractions of the run's users and run time.

Imported by locustfiles/shapes/*.py. A shape reads --users,
--spawn-rate and --run-time, so `lab run --shape spike --users 1000` means
what it says.
"""

from __future__ import annotations

from typing import ClassVar

from locust import LoadTestShape

from lab.runconfig import SHAPE_STAGES

DEFAULT_RUN_TIME_S = 120


class FractionShape(LoadTestShape):
    """Hold `stages` of (until this fraction of the run time, this fraction of the users)."""

    abstract = True
    use_common_options = True
    stages: ClassVar[list[tuple[float, float]]] = [(1.0, 1.0)]

    def options(self) -> tuple[int, float, float]:
        options = self.runner.environment.parsed_options if self.runner else None
        users = int(getattr(options, "num_users", None) or 1)
        spawn_rate = float(getattr(options, "spawn_rate", None) or 1)
        run_time = float(getattr(options, "run_time", None) or DEFAULT_RUN_TIME_S)
        return users, spawn_rate, run_time

    def tick(self) -> tuple[int, float] | None:
        users, spawn_rate, run_time = self.options()
        elapsed = self.get_run_time() / run_time
        for until, share in self.stages:
            if elapsed < until:
                return max(1, round(users * share)), spawn_rate
        return None


class Ramp(FractionShape):
    """Grow to all users in ten equal steps over the run: where does latency bend?"""

    abstract = True
    stages: ClassVar[list[tuple[float, float]]] = list(SHAPE_STAGES["ramp"])


class Steady(FractionShape):
    """All users for the whole run (after the spawn ramp)."""

    abstract = True
    stages: ClassVar[list[tuple[float, float]]] = list(SHAPE_STAGES["steady"])


class Spike(FractionShape):
    """A fifth of the users, all of them for a fifth of the run, then a fifth again."""

    abstract = True
    stages: ClassVar[list[tuple[float, float]]] = list(SHAPE_STAGES["spike"])
