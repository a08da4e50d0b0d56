"""`lab capacity`: the highest load at which the criteria still hold, found by runs.

Each step is a whole judged run (a fresh copy, its own warm-up, its own run
folder under the study's `steps/`) at one user count. The search steps up by
a factor until a step fails, then bisects between the last pass and the
first failure until the two are within the precision, separately for the
seed's thresholds and the lab's stricter targets (lab ≤ seed always, so one
series of steps serves both). It stops early when the generator, not the
target, is the limit (Locust saturated: the verdict V says so), and when the
next step would not fit in the budget. The steps' folders stay, so every
point of the curves has a full report behind it.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lab.config import Settings
from lab.errors import LabError
from lab.growth import CAPACITY_FILE, write_document
from lab.growth.outcomes import StepOutcome, capacity_headline, step_outcome
from lab.pipeline.headless import run_headless
from lab.progress import Reporter, Say
from lab.runconfig import RunConfig
from lab.runfolder import RunFolder, utc_stamp

STEPS_DIR = "steps"


@dataclass(frozen=True)
class CapacitySearch:
    """How the search walks: where it starts, how it grows, when a bracket is narrow enough."""

    base: RunConfig              # the scenario, dataset, strategy and target of every step
    start_users: int
    factor: float = 2.0          # step up by this until a step fails
    precision: float = 0.1       # stop bisecting when (fail - pass) / pass is at most this
    window_s: int = 40           # each step's measurement window, after its ramp and settling
    budget_s: float = 600.0
    max_users: int = 20_000


def next_users(outcomes: list[StepOutcome], search: CapacitySearch) -> int | None:
    """The next user count to try, or None when both threshold sets are bracketed (or can
    go no further). Pure: the tests walk it over made-up outcomes."""
    if not outcomes:
        return search.start_users
    tried = {o.users for o in outcomes}
    for passes in (lambda o: o.seed_pass, lambda o: o.lab_pass):
        low = max((o.users for o in outcomes if passes(o)), default=None)
        high = min((o.users for o in outcomes if not passes(o)
                    and (low is None or o.users > low)), default=None)
        if high is None:            # nothing failed above the best pass: grow
            grown = math.ceil((low or search.start_users) * search.factor)
            if grown > search.max_users:
                continue
            return grown if grown not in tried else None
        if low is None:             # failed already at the lowest load tried: shrink
            shrunk = math.floor(high / search.factor)
            if shrunk < 1 or high <= 1:
                continue
            if shrunk not in tried:
                return shrunk
            continue
        if (high - low) / low > search.precision and high - low > 1:
            middle = (low + high) // 2
            if middle not in tried:
                return middle
    return None


def why_finished(outcomes: list[StepOutcome], search: CapacitySearch) -> str:
    """Why next_users had nothing left to try, per threshold set: bracketed, nothing held
    even at the lowest load, or still holding at --max-users."""
    said = []
    for name, passes in (("seed", lambda o: o.seed_pass), ("lab", lambda o: o.lab_pass)):
        held = [o.users for o in outcomes if passes(o)]
        if not held:
            lowest = min(o.users for o in outcomes)
            said.append(f"no load held the {name} thresholds, down to {lowest:,} "
                        f"user{'s' if lowest != 1 else ''}")
        elif not any(o.users > max(held) and not passes(o) for o in outcomes):
            said.append(f"the {name} thresholds still held at {max(held):,} users, the "
                        f"most the search may try ({search.max_users:,})")
    return "; ".join(said) or "both capacities bracketed within the precision"


def over_budget(outcomes: list[StepOutcome], step_seconds: list[float], users: int,
                elapsed: float, search: CapacitySearch) -> str | None:
    """The reason to stop before a step of `users` that would end past the budget, else None.
    A step is expected to cost what the last one did plus the longer ramp of more users;
    the first step always runs."""
    if not outcomes:
        return None
    expected = step_seconds[-1] + max(0.0, (users - outcomes[-1].users)
                                      / search.base.spawn_rate)
    if elapsed + expected <= search.budget_s:
        return None
    return (f"budget: {elapsed:.0f} s spent of {search.budget_s:.0f} s and the next step "
            f"({users:,} users) takes about {expected:.0f} s")


def step_config(search: CapacitySearch, users: int, steps_dir: Path) -> RunConfig:
    """One step's run: `users` at the base's spawn rate, run long enough for the ramp, the
    settling and the measurement window; no connection check (SC4 is not a load level)."""
    settle = search.base.settle_s if search.base.settle_s is not None else 10.0
    run_time = math.ceil(users / search.base.spawn_rate + settle + search.window_s)
    return search.base.varied(users=users, run_time_s=run_time, settle_s=settle,
                              tag=f"capacity-{users}", reports_dir=steps_dir,
                              connection_check=False, connection_experiment=None,
                              strict=False)


@dataclass
class CapacityStudy:
    folder: Path
    outcomes: list[StepOutcome] = field(default_factory=list)
    stopped_because: str = ""


def search_capacity(search: CapacitySearch, folder: Path, settings: Settings,
                    reporter: Reporter, say: Say) -> CapacityStudy:
    """Run steps until both capacities are bracketed, the generator saturates or the budget
    ends; write capacity.json after every step (an interrupted search keeps what it found)."""
    study = CapacityStudy(folder)
    started = time.monotonic()
    steps_dir = folder / STEPS_DIR
    step_seconds: list[float] = []
    write_capacity(study, search)     # a folder that is readable from the start
    while True:
        users = next_users(study.outcomes, search)
        if users is None:
            study.stopped_because = why_finished(study.outcomes, search)
            break
        elapsed = time.monotonic() - started
        over = over_budget(study.outcomes, step_seconds, users, elapsed, search)
        if over:
            study.stopped_because = over
            break
        say(f"capacity: step {len(study.outcomes) + 1}: {users:,} users "
            f"({elapsed:.0f} s of {search.budget_s:.0f} s budget spent)")
        begun = time.monotonic()
        result = run_headless(step_config(search, users, steps_dir), settings, reporter, say)
        step_seconds.append(time.monotonic() - begun)
        outcome = step_outcome(RunFolder(result.folder), folder)
        study.outcomes.append(outcome)
        say(f"capacity: {users:,} users: {outcome.describe()}")
        write_capacity(study, search)
        if outcome.generator_bound:
            study.stopped_because = (f"the generator is the limit at {users:,} users "
                                     f"({outcome.generator_note}): the target was not; "
                                     "add Locust processes with --locust-workers")
            break
    write_capacity(study, search)
    return study


def write_capacity(study: CapacityStudy, search: CapacitySearch) -> Path:
    """capacity.json: the search's set-up, every step and the capacities found so far."""
    document: dict[str, Any] = {
        "kind": "capacity", "started_at": study.outcomes[0].started_at if study.outcomes
        else utc_stamp(), "finished_at": utc_stamp(),
        "config": {"scenario": search.base.scenario, "scale": search.base.scale,
                   "strategy": search.base.strategy, "spawn_rate": search.base.spawn_rate,
                   "api_workers": search.base.api_workers,
                   "locust_workers": search.base.locust_workers,
                   "start_users": search.start_users, "factor": search.factor,
                   "precision": search.precision, "window_s": search.window_s,
                   "budget_s": search.budget_s},
        "stopped_because": study.stopped_because,
        "steps": [o.as_dict() for o in study.outcomes],
    }
    document["headline"] = capacity_headline(study.outcomes)
    return write_document(study.folder, CAPACITY_FILE, document)


def check_search(search: CapacitySearch) -> CapacitySearch:
    if search.factor <= 1:
        raise LabError("--factor must be above 1 (each step up multiplies the users by it)")
    if not 0 < search.precision < 1:
        raise LabError("--precision must be between 0 and 1 (0.1: within 10 %)")
    if search.window_s < 10:
        raise LabError("--window must be at least 10 s: a step's percentiles need samples")
    return search
