"""Regression gates for nightly jobs: a run's metric against a baseline run's, failing only on
a change that is beyond the limit and outside the noise: its 95 % interval excludes zero and,
where the group's noise floor was measured (`lab run --repeat`), it exceeds the metric's
run-to-run spread.

`--fail-on 'home_timeline.p99:+20%,throughput:-10%'`: a latency gate fails when the
percentile grew by more than its limit, a throughput gate when requests/s fell by more.
A gate that cannot be checked (the request name absent from a run) fails: a nightly job
must not pass a check it did not make.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from lab.errors import LabError
from lab.intervals import HIGHER, LOWER, Difference
from lab.report.differences import ALL, RATE, Measured, differences, measured
from lab.report.noise import (
    THROUGHPUT,
    beyond_spread,
    group_key,
    held_differences,
    label,
    read_noise,
    spread,
)
from lab.report.trends import collect_runs
from lab.runfolder import GATES_FILE, RunFolder
from lab.verdicts import gated_exit_code

GATE = re.compile(r"^(?P<metric>[A-Za-z0-9_]+(?:\.(?:p50|p95|p99|rps))?)"
                  r":(?P<limit>[+-]\d+(?:\.\d+)?)%$")
FORMS = ("NAME.p50|p95|p99:+N% (a latency may grow at most N %), NAME.rps:-N% or "
         "throughput:-N% (requests/s may fall at most N %); NAME is a request name or 'all'")


@dataclass(frozen=True)
class Gate:
    """One rule of --fail-on."""

    name: str           # a request name, or ALL
    metric: str         # p50, p95, p99 or rps
    limit: float        # relative: +0.2 for a latency, -0.1 for a rate

    @property
    def label(self) -> str:
        return label(self.name, self.metric)


def parse_gates(spec: str) -> list[Gate]:
    """The gates of a --fail-on string; a LabError names the part it cannot read."""
    gates = []
    for part in (p.strip() for p in spec.split(",")):
        found = GATE.match(part)
        if not found:
            raise LabError(f"--fail-on: cannot read {part!r}; expected {FORMS}")
        metric = found["metric"]
        name, _, kind = (f"{ALL}.{RATE}" if metric == THROUGHPUT else metric).partition(".")
        if not kind:
            raise LabError(f"--fail-on: {part!r} names no metric; expected {FORMS}")
        limit = float(found["limit"]) / 100
        if (kind == RATE) != (limit < 0):
            raise LabError(f"--fail-on: {part!r}: a latency's limit is a growth (+N%), a "
                           f"rate's a fall (-N%)")
        gates.append(Gate(name, kind, limit))
    if not gates:
        raise LabError(f"--fail-on is empty; expected {FORMS}")
    return gates


@dataclass(frozen=True)
class GateResult:
    """One gate judged: its numbers and why it passed or failed."""

    gate: str
    limit: str
    passed: bool
    message: str
    baseline: float | None = None
    value: float | None = None
    low: float | None = None        # the 95 % interval of the relative change
    high: float | None = None
    noise_spread: float = 0.0       # the metric's run-to-run spread (0: none measured)


def judge_gate(gate: Gate, difference: Difference | None, width: float = 0.0) -> GateResult:
    """Fail beyond the limit when the change is outside the noise: its interval excludes zero
    and it exceeds the metric's run-to-run spread `width` (where one was measured)."""
    limit = f"{gate.limit:+.0%}"
    unit = "req/s" if gate.metric == RATE else "ms"
    if difference is None:
        return GateResult(gate.label, limit, False, f"{gate.label}: not measured in both runs "
                          "(a gate that cannot be checked fails)")
    relative, bounds = difference.relative, difference.relative_interval()
    worse = HIGHER if gate.metric != RATE else LOWER
    beyond = relative is not None and (relative > gate.limit if gate.limit > 0
                                       else relative < gate.limit)
    sampled = difference.call == worse
    failed = beyond and beyond_spread(difference, width).call == worse
    interval = (f", 95 % interval {bounds[0]:+.1%} to {bounds[1]:+.1%}" if bounds else "")
    verdict = ("beyond the limit and outside the noise" if failed else
               f"beyond the limit but within the run-to-run spread ({width:.0%})"
               if beyond and sampled else
               "beyond the limit but within the noise" if beyond else "within the limit")
    change = f"{relative:+.1%}" if relative is not None else "from zero"
    return GateResult(
        gate.label, limit, not failed,
        f"{gate.label} {difference.value:,.1f} {unit} against a baseline of "
        f"{difference.reference:,.1f} ({change}{interval}; limit {limit}): {verdict}",
        difference.reference, difference.value,
        bounds[0] if bounds else None, bounds[1] if bounds else None, width)


def judge_gates(before: Measured, after: Measured, gates: list[Gate],
                noise: dict[str, Any] | None = None) -> list[GateResult]:
    """Every gate of a run (`after`) against its baseline (`before`), held to the group's
    noise floor where one was measured."""
    return [judge_gate(gate, differences(before, after, gate.name).get(gate.metric),
                       spread(noise, gate.label)) for gate in gates]


def largest_changes(before: Measured, after: Measured, noise: dict[str, Any] | None = None,
                    keep: int = 8) -> list[dict[str, Any]]:
    """The changes called (outside the noise, over the minimum effect), largest first."""
    found: list[dict[str, Any]] = []
    for name in sorted(set(before.latencies_ms) & set(after.latencies_ms)):
        for metric, difference in held_differences(before, after, name, noise).items():
            bounds = difference.relative_interval()
            if difference.call and difference.relative is not None and bounds:
                found.append({"name": name, "metric": metric, "baseline": difference.reference,
                              "value": difference.value, "change": difference.relative,
                              "low": bounds[0], "high": bounds[1], "call": difference.call})
    return sorted(found, key=lambda c: -abs(float(c["change"])))[:keep]


def gate_run(run: Path, baseline: str, spec: str) -> dict[str, Any]:
    """Judge `spec`'s gates of the run folder `run` against `baseline` (a run folder, or
    'latest'), write gates.json and return it; the caller re-renders the report."""
    gates = parse_gates(spec)
    base = latest_baseline(run) if baseline == "latest" else Path(baseline)
    if base.resolve() == run.resolve():
        raise LabError(f"--baseline is the run itself ({run}): gate against an earlier run")
    folder, reference = RunFolder(run), RunFolder(base)
    before, after = measured(reference), measured(folder)
    noise = read_noise(run.resolve().parent, group_key(folder))
    results = judge_gates(before, after, gates, noise)
    document = {"baseline": str(reference.path), "baseline_name": reference.name,
                "exit_code": gated_exit_code(folder.summary.exit_code,
                                             all(r.passed for r in results)),
                "noise_floor": None if noise is None else {
                    "runs": noise["runs"], "measured_at": noise["measured_at"]},
                "gates": [asdict(r) for r in results],
                "changes": largest_changes(before, after, noise)}
    (run / GATES_FILE).write_text(json.dumps(document, indent=2))
    return document


def latest_baseline(run: Path) -> Path:
    """The newest run beside `run` (same reports folder) started before it, of the same
    scenario, strategy, scale and users: what 'latest' means for --baseline."""
    mine = RunFolder(run)
    key = group_key(mine)
    runs, _ = collect_runs(run.resolve().parent)     # readable ones, oldest first
    earlier = [other for other in runs if group_key(other) == key
               and other.summary.started_at < mine.summary.started_at
               and other.path.resolve() != run.resolve()]
    if not earlier:
        raise LabError(f"--baseline latest: no earlier {key[0]} run ({key[1]}, {key[2]}, "
                       f"{key[3]} users) beside {run}")
    return earlier[-1].path


def read_gates(run: Path) -> dict[str, Any] | None:
    """The run's judged gates (None when it had none)."""
    path = run / GATES_FILE
    return json.loads(path.read_text()) if path.exists() else None
