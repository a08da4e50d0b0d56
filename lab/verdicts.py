"""The vocabulary of verdicts, shared by everything that judges or shows one.

Load runs, the connection experiment and reports all speak of the same
criteria (docs/criteria.md), statuses, thresholds and exit codes; they are
defined here, below all of them, so no layer imports another for a word.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

PASS, FAIL, NOT_MEASURED, NOT_IN_SCOPE = "pass", "fail", "not measured", "not in scope"

# The lab's own targets, stricter than the seed's.
LAB_P99_MS = 50.0
LAB_POWER_TIMELINE_P99_MS = 20.0
LAB_POST_RATE = 100.0

# Seed thresholds a run may override (tests prove the exit code follows them).
DEFAULT_THRESHOLDS: dict[str, float] = {
    "SC1": 50.0,        # registration p95, ms
    "SC3": 100.0,       # power-reader home timeline p95, ms
    "SC5": 100.0,       # successful posts' p95 from their schedule, measurement window, ms
    "SC5_RATE": 100.0,  # sustained tweets/s (successful posts)
}
# The seed's populations and counts, fixed by its wording.
POWER_FOLLOWS = 1000            # SC3 and SC6: "users following 1000+ accounts"
POWER_BUCKET = f"{POWER_FOLLOWS}+"
SC4_CLIENTS = 1000              # "1000 concurrent connections"...
SC4_FEWEST = 10                 # ...against the fewest clients of the sweep
PACED_P95_RATIO_MAX = 1.5       # SC4 paced: p95(most) <= 1.5 x p95(fewest)
SATURATING_SHARE_MIN = 0.9      # SC4 saturating: >= 90 % of the peak
# A decisive p95 needs 1 / (1 - 0.95) = 20 samples, or it is the sample's maximum.
DECISIVE_PERCENT = 95
MIN_DECISIVE_SAMPLES = round(1 / (1 - DECISIVE_PERCENT / 100))


def titles(thresholds: dict[str, float] | None = None) -> dict[str, str]:
    """Each criterion's title, saying the thresholds in force (a run judged with
    `--threshold SC1=80` is titled "registration < 80 ms")."""
    limits = {**DEFAULT_THRESHOLDS, **(thresholds or {})}
    return {
        "SC1": f"registration < {limits['SC1']:g} ms",
        "SC2": "follow/unfollow update both tables atomically",
        "SC3": f"timeline < {limits['SC3']:g} ms for users following {POWER_BUCKET} accounts",
        "SC4": f"{SC4_CLIENTS} concurrent connections without degradation",
        "SC5": f"{limits['SC5_RATE']:g} tweets/s with sub-{limits['SC5']:g} ms responses",
        "SC6": "plans documented, optimizations identified",
        "T1": f"lab target: every request name p99 < {LAB_P99_MS:g} ms",
        "R": "no acknowledged write lost; faults survived",
        "V": "the run is valid",
    }


def sc4_rule(lowest: int = SC4_FEWEST, highest: int = SC4_CLIENTS) -> str:
    """SC4's rule as a verdict's threshold column says it."""
    return (f"paced p95({highest}) <= {PACED_P95_RATIO_MAX:g} x p95({lowest}); "
            f"saturating >= {SATURATING_SHARE_MIN:.0%} of peak")


CRITERIA = tuple(titles())
# Which span of a run each verdict is judged on (docs/criteria.md).
WINDOW_MEASUREMENT = "measurement window"    # after the warm-up
WINDOW_RUN = "whole run"
WINDOW_AFTER = "after the load"              # checks of the data the load left
WINDOW_EXPERIMENT = "connection experiment"

LAB_ONLY = {"T1"}   # lab targets without a seed threshold: they fail a run only with strict

# Validity (V). Paced actions must keep their schedule: at least this share starting within
# this long of their due time (LDBC's benchmark driver holds 95 % within 1 s). A decisive
# percentile needs enough samples not to be the window's maximum: 1 / (1 - p) of them.
SCHEDULE_ON_TIME_S = 1.0
SCHEDULE_ON_TIME_SHARE = 0.95
MIN_WINDOW_S = 10.0
# How V names a saturated load generator (a capacity search stops there: the target was
# not the limit).
GENERATOR_SATURATED = "generator-bound: Locust at"

# Exit codes of `lab run` and the experiments (documented in the README).
EXIT_PASSED = 0
EXIT_ERROR = 1
EXIT_CRITERION_FAILED = 2
EXIT_INVALID_RUN = 3
EXIT_REGRESSION = 4          # the criteria passed, a regression gate (--fail-on) did not
EXIT_INTERRUPTED = 130


@dataclass(frozen=True)
class Verdict:
    """One criterion judged: what was measured against the seed's threshold and the lab's
    stricter target, so a report can say "passes the brief, misses our bar"."""

    id: str
    title: str
    status: str
    measured: str
    seed: str
    lab: str
    lab_met: bool | None = None
    note: str = ""
    window: str = ""           # which span of the run it was judged on (WINDOW_*)

    @property
    def blocks(self) -> bool:
        """Failed, or in scope and not measured: a criterion the run claims to judge but
        could not is never a pass."""
        return self.status in (FAIL, NOT_MEASURED)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)



def fails_run(verdict: Verdict, strict: bool = False) -> bool:
    """Whether this verdict alone keeps the run from exit code 0: a seed criterion failed or
    in scope and not measured; a lab-only target (T1) or a lab target beside a seed
    threshold only with `strict`. The exit code and junit.xml both ask this."""
    if verdict.id in LAB_ONLY and not strict:
        return False
    if verdict.blocks:
        return True
    return strict and verdict.lab_met is False and verdict.status != NOT_IN_SCOPE


def exit_code(verdicts: list[Verdict], strict: bool = False) -> int:
    """0: all in scope pass; 3: the run is invalid (numbers untrustworthy); 2: a criterion
    failed or could not be measured.

    `strict` also fails the run on a missed lab target.
    """
    by_id = {v.id: v for v in verdicts}
    if "V" in by_id and by_id["V"].status == FAIL:
        return EXIT_INVALID_RUN
    failed = any(fails_run(v, strict) for v in verdicts)
    return EXIT_CRITERION_FAILED if failed else EXIT_PASSED


def worst_exit_code(codes: list[int]) -> int:
    """Of several runs' codes: an invalid run outranks a failed criterion, which outranks a
    failed regression gate, which outranks a pass; any other code (an error) outranks them
    all."""
    rank = {EXIT_PASSED: 0, EXIT_REGRESSION: 1, EXIT_CRITERION_FAILED: 2, EXIT_INVALID_RUN: 3}
    return max(codes, key=lambda code: rank.get(code, 4), default=EXIT_PASSED)


def gated_exit_code(code: int, gates_passed: bool) -> int:
    """A run's code once its regression gates are judged: a failed gate turns a pass into
    EXIT_REGRESSION and leaves every worse code as it was."""
    return EXIT_REGRESSION if code == EXIT_PASSED and not gates_passed else code
