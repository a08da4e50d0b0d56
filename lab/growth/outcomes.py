"""A capacity step's outcome, read off its run folder, and what a series of steps shows.

Seed thresholds: the run's exit code without `strict` (every seed criterion
in scope holds on a valid run). Lab targets: with it (every lab target too).
Which component saturated is read from the step's measurement window: the
machine's CPUs and the API's pool (Little's law, lab.attribution.capacity),
the generator (the verdict V), and the part that dominates the slowest 1 %.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from lab.attribution.attribute import sent_in
from lab.attribution.capacity import GROUPS, capacity
from lab.attribution.decompose import at_rank, components
from lab.runfolder import RunFolder
from lab.verdicts import EXIT_INVALID_RUN, GENERATOR_SATURATED, exit_code

KNEE_LATENCY_RATIO = 2.0       # the knee: p95 over twice the lightest step's ...
KNEE_THROUGHPUT_SHARE = 0.9    # ... or requests per user below 90 % of the lightest step's


@dataclass(frozen=True)
class StepOutcome:
    """One step of a capacity search: its load, its numbers, its verdicts, its room."""

    users: int
    folder: str                        # relative to the study's folder
    started_at: str
    rps: float                         # successful requests/s in the measurement window
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    seed_pass: bool
    lab_pass: bool
    failed: list[str]                  # seed criteria that failed (or could not be measured)
    missed: list[str]                  # lab targets missed
    generator_bound: bool
    generator_note: str
    cpu_percent: dict[str, float] = field(default_factory=dict)   # of one core, per group
    cpu_busy_share: float | None = None
    cpu_wait_share: float | None = None
    cpu_saturated: bool = False
    pool_busy: float | None = None
    pool_size: int = 0
    pool_full: bool = False
    tail_parts_ms: dict[str, float] = field(default_factory=dict)  # the slowest 1 %, mean ms

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def tail_dominant(self) -> str | None:
        parts = self.tail_parts_ms
        return max(parts, key=lambda part: parts[part]) if parts else None

    def describe(self) -> str:
        seed = ("seed thresholds hold" if self.seed_pass
                else f"seed fails ({', '.join(self.failed)})")
        lab = "lab targets met" if self.lab_pass else f"lab misses ({', '.join(self.missed)})"
        return (f"{self.rps:.0f} req/s, p50/p95/p99 {_ms(self.p50_ms)}/{_ms(self.p95_ms)}/"
                f"{_ms(self.p99_ms)} ms; {seed}; {lab}")


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def step_outcome(run: RunFolder, study: Path) -> StepOutcome:
    """The outcome of the step whose run folder is `run`."""
    summary = run.summary
    verdicts = summary.criteria
    validity = summary.verdict("V")
    note = validity.note if validity else ""
    window = summary.windows.measurement
    sent = sent_in(run.samples, window)
    measured = sent[sent["failure"].isna()]
    tail: dict[str, float] = {}
    if len(measured):
        slow = measured[measured["latency_us"] >= at_rank(measured["latency_us"].to_numpy(), 99)]
        tail = {k: round(v, 2) for k, v in components(slow).parts().items()}
    api = summary.environment.api
    room = capacity(measured, run.server, window, summary.environment.machine.cpus,
                    api.workers * api.pool_max)
    latency = summary.stats.total.latency_ms
    return StepOutcome(
        users=summary.config.users, folder=str(run.path.relative_to(study)),
        started_at=summary.started_at, rps=summary.stats.total.rps or 0.0,
        p50_ms=latency.p50, p95_ms=latency.p95, p99_ms=latency.p99,
        seed_pass=exit_code(verdicts) == 0, lab_pass=exit_code(verdicts, strict=True) == 0,
        failed=[v.id for v in verdicts if v.blocks and v.id != "T1"],
        missed=[v.id for v in verdicts if v.lab_met is False
                or (v.id == "T1" and v.blocks)],
        generator_bound=exit_code(verdicts) == EXIT_INVALID_RUN and GENERATOR_SATURATED in note,
        generator_note=note,
        cpu_percent={g: round(v, 1) for g, v in room.cpu_percent.items()},
        cpu_busy_share=room.cpu_busy_share, cpu_wait_share=room.cpu_wait_share,
        cpu_saturated=room.saturated, pool_busy=room.pool_busy, pool_size=room.pool_size,
        pool_full=room.pool_full, tail_parts_ms=tail)


def knee(outcomes: list[StepOutcome]) -> int | None:
    """The highest load before latency or throughput stops scaling: the last step (by
    users) before the first whose p95 exceeds KNEE_LATENCY_RATIO x the lightest step's, or
    whose requests per user fall below KNEE_THROUGHPUT_SHARE of the lightest step's."""
    ordered = sorted(outcomes, key=lambda o: o.users)
    if len(ordered) < 2 or not ordered[0].p95_ms or not ordered[0].rps:
        return None
    base_p95, base_per_user = ordered[0].p95_ms, ordered[0].rps / ordered[0].users
    for before, step in zip(ordered, ordered[1:], strict=False):
        if ((step.p95_ms or 0) > KNEE_LATENCY_RATIO * base_p95
                or step.rps / step.users < KNEE_THROUGHPUT_SHARE * base_per_user):
            return before.users
    return None


def first_saturated(outcomes: list[StepOutcome]) -> dict[str, Any] | None:
    """The first component to saturate as the load grew: the generator, the machine's CPUs
    (naming the process group using the most) or the API's pool, at the lightest step
    showing it; with the part dominating that step's slowest 1 %."""
    labels = dict(GROUPS)
    for step in sorted(outcomes, key=lambda o: o.users):
        found = []
        if step.generator_bound:
            found.append("the load generator (Locust)")
        if step.cpu_saturated:
            group = max(step.cpu_percent, key=lambda g: step.cpu_percent[g], default=None)
            found.append("the machine's CPUs" + (f", most of it {labels.get(group, group)}"
                                                 if group else ""))
        if step.pool_full:
            found.append("the API's connection pool")
        if found:
            return {"users": step.users, "components": found, "tail_dominant": step.tail_dominant,
                    "cpu_percent": step.cpu_percent, "cpu_busy_share": step.cpu_busy_share,
                    "pool_busy": step.pool_busy, "pool_size": step.pool_size}
    return None


def capacity_headline(outcomes: list[StepOutcome]) -> dict[str, Any]:
    """Per threshold set the highest passing load below the lowest failing one (None: none
    passed), with its throughput; the knee; the first component to saturate."""
    result: dict[str, Any] = {}
    for key, passes in (("seed", lambda o: o.seed_pass), ("lab", lambda o: o.lab_pass)):
        failing = [o.users for o in outcomes if not passes(o)]
        ceiling = min(failing, default=None)
        held = [o for o in outcomes if passes(o) and (ceiling is None or o.users < ceiling)]
        best = max(held, key=lambda o: o.users, default=None)
        result[key] = {"users": best.users if best else None,
                       "rps": best.rps if best else None,
                       "first_failing_users": ceiling,
                       "bounded": ceiling is not None}
    result["knee_users"] = knee(outcomes)
    result["first_saturated"] = first_saturated(outcomes)
    result["generator_bound"] = any(o.generator_bound for o in outcomes)
    return result
