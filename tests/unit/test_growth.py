"""The capacity search's walk and reading, and the fits behind the cost curves, on made-up data."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
import pytest

from lab.fits import ccdf_points, fitted_body, loglog_fit, power_law_alpha
from lab.growth.outcomes import StepOutcome, capacity_headline, first_saturated, knee
from lab.pipeline.capacity import CapacitySearch, next_users, over_budget, why_finished
from lab.runconfig import RunConfig
from lab.seed.generate import generate
from lab.seed.scales import PUBLISHED_RECIPROCITY, get_scale

SEARCH = CapacitySearch(base=RunConfig.build(scenario="smoke"), start_users=100, factor=2.0,
                        precision=0.1)


def step(users: int, seed: bool, lab: bool | None = None, rps: float | None = None,
         p95: float = 10.0, **extra: object) -> StepOutcome:
    fields = {"users": users, "folder": f"steps/{users}", "started_at": "t", "rps":
              rps if rps is not None else users * 0.3, "p50_ms": 5.0, "p95_ms": p95,
              "p99_ms": 20.0, "seed_pass": seed, "lab_pass": seed if lab is None else lab,
              "failed": [] if seed else ["SC1"], "missed": [], "generator_bound": False,
              "generator_note": ""}
    return StepOutcome(**{**fields, **extra})  # type: ignore[arg-type]


def walk(passes_below: int, lab_below: int, search: CapacitySearch = SEARCH) -> list[int]:
    """The loads the search tries against a target holding the seed's thresholds below
    `passes_below` users and the lab's below `lab_below`."""
    outcomes: list[StepOutcome] = []
    while (users := next_users(outcomes, search)) is not None:
        assert users not in [o.users for o in outcomes], "a load is never tried twice"
        outcomes.append(step(users, users < passes_below, users < lab_below))
        assert len(outcomes) < 30
    return [o.users for o in outcomes]


def test_the_search_steps_up_then_bisects_both_threshold_sets() -> None:
    tried = walk(passes_below=700, lab_below=300)
    assert tried[:4] == [100, 200, 400, 800]
    head = capacity_headline([step(u, u < 700, u < 300) for u in tried])
    seed, lab = head["seed"], head["lab"]
    assert seed["bounded"] and seed["users"] < 700 <= seed["first_failing_users"]
    assert (seed["first_failing_users"] - seed["users"]) / seed["users"] <= 0.1
    assert lab["bounded"] and lab["users"] < 300 <= lab["first_failing_users"]
    assert (lab["first_failing_users"] - lab["users"]) / lab["users"] <= 0.1


def test_a_failing_first_step_makes_the_search_step_down() -> None:
    tried = walk(passes_below=30, lab_below=30)
    assert tried[:3] == [100, 50, 25]
    head = capacity_headline([step(u, u < 30) for u in tried])
    assert head["seed"]["users"] is not None and head["seed"]["users"] < 30


def test_nothing_passing_ends_the_search_with_no_capacity() -> None:
    tried = walk(passes_below=0, lab_below=0)
    assert tried[-1] == 1
    assert capacity_headline([step(u, False) for u in tried])["seed"]["users"] is None


def test_the_search_stops_at_its_ceiling() -> None:
    ceiling = dataclasses.replace(SEARCH, max_users=500)
    assert walk(passes_below=10**6, lab_below=10**6, search=ceiling) == [100, 200, 400]


def test_the_stop_says_what_each_threshold_set_found() -> None:
    nothing = [step(u, False) for u in walk(passes_below=0, lab_below=0)]
    assert why_finished(nothing, SEARCH) == ("no load held the seed thresholds, down to 1 user; "
                                             "no load held the lab thresholds, down to 1 user")
    tried = walk(passes_below=700, lab_below=300)
    both = [step(u, u < 700, u < 300) for u in tried]
    assert why_finished(both, SEARCH) == "both capacities bracketed within the precision"
    ceiling = dataclasses.replace(SEARCH, max_users=500)
    held = [step(u, True, u < 300) for u in walk(10**6, 300, search=ceiling)]
    assert why_finished(held, ceiling) == ("the seed thresholds still held at 400 users, the "
                                           "most the search may try (500)")


def test_a_step_that_would_end_past_the_budget_is_not_started() -> None:
    budget = dataclasses.replace(SEARCH, budget_s=120.0)
    assert over_budget([], [], 100, 500.0, budget) is None, "the first step always runs"
    done = [step(8, False)]
    assert over_budget(done, [30.0], 4, 80.0, budget) is None           # 80 + 30 fits
    reason = over_budget(done, [30.0], 4, 95.0, budget)
    assert reason is not None and reason.startswith("budget: 95 s spent of 120 s")
    # Stepping up adds the longer ramp: 40 s of spawning on top of the 30 s step.
    spawn = budget.base.spawn_rate
    assert over_budget(done, [30.0], 8, 60.0, budget) is None           # 60 + 30 fits
    assert over_budget(done, [30.0], 8 + int(40 * spawn), 60.0, budget) is not None


def test_the_knee_is_where_latency_or_throughput_stop_scaling() -> None:
    steps = [step(100, True, p95=10), step(200, True, p95=12), step(400, True, p95=30)]
    assert knee(steps) == 200
    flat = [step(100, True, rps=30), step(200, True, rps=60), step(400, True, rps=70)]
    assert knee(flat) == 200        # 400 users, 0.175 req/s each against 0.3
    assert knee([step(100, True), step(200, True)]) is None


def test_the_first_component_to_saturate_is_named_with_its_step() -> None:
    steps = [step(100, True, cpu_percent={"postgres": 30.0, "api": 40.0}),
             step(200, True, cpu_saturated=True, cpu_percent={"postgres": 90.0, "api": 70.0},
                  tail_parts_ms={"pool wait": 30.0, "database": 5.0}),
             step(400, False, pool_full=True, cpu_saturated=True)]
    first = first_saturated(steps)
    assert first is not None and first["users"] == 200
    assert first["components"] == ["the machine's CPUs, most of it PostgreSQL"]
    assert first["tail_dominant"] == "pool wait"
    assert first_saturated(steps[:1]) is None


def test_loglog_fit_recovers_a_power_law() -> None:
    xs = [10, 100, 1000, 5000]
    fit = loglog_fit(xs, [3 * x ** 0.5 for x in xs])
    assert fit is not None and fit["exponent"] == pytest.approx(0.5, abs=1e-3)
    assert fit["prefactor"] == pytest.approx(3, rel=1e-3) and fit["r2"] == pytest.approx(1)
    assert loglog_fit([10, 10], [1, 2]) is None


def test_the_power_law_estimate_recovers_a_known_exponent() -> None:
    values = np.random.default_rng(7).zipf(2.3, size=50_000)
    fit = power_law_alpha(values.tolist(), x_min=5)
    assert fit is not None and fit["alpha"] == pytest.approx(2.3, abs=0.05)
    body = fitted_body(values.tolist())
    assert body is not None and body["alpha"] == pytest.approx(2.3, abs=0.1)


def test_ccdf_points_fall_from_one() -> None:
    points = ccdf_points([1, 1, 2, 3, 10, 100])
    assert points[0] == (1, 1.0)
    shares = [share for _, share in points]
    assert shares == sorted(shares, reverse=True) and points[-1] == (100, pytest.approx(1 / 6))


def pair_reciprocity(reciprocity: float) -> tuple[float, int]:
    data = generate(dataclasses.replace(get_scale("tiny"), reciprocity=reciprocity), 42)
    n = data.users.count
    key = data.edges.follower * n + data.edges.followee
    mutual = int(np.isin(data.edges.followee * n + data.edges.follower, key).sum())
    followers_of_1000 = int((data.users.following_count >= 1000).sum())
    return mutual / 2 / (len(key) - mutual / 2), followers_of_1000


def test_the_generator_matches_the_published_reciprocity_and_keeps_its_guarantees() -> None:
    published, power = pair_reciprocity(PUBLISHED_RECIPROCITY)
    assert published == pytest.approx(PUBLISHED_RECIPROCITY, abs=0.01)
    none, power_before = pair_reciprocity(0.0)
    assert none < 0.05
    # Follow-backs never make an ordinary account a power reader.
    assert power == power_before == get_scale("tiny").power_readers
    assert math.isclose(get_scale("small").reciprocity, 0.221)


def test_a_search_stopped_before_its_first_step_has_a_page_saying_so(tmp_path: Path) -> None:
    from lab.pipeline.capacity import CapacityStudy, write_capacity
    from lab.report.growth_page import write_capacity_report

    write_capacity(CapacityStudy(tmp_path), SEARCH)
    page = write_capacity_report(tmp_path).read_text()
    assert "No step finished" in page and "none of the loads tried held" not in page
