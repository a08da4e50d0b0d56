"""Bootstrap intervals of run-to-run differences: the shortcut is the bootstrap, A/A calls
nothing, a real change of the right size is called, and the interval covers as it claims."""

from __future__ import annotations

import numpy as np
import pytest

from lab.intervals import (
    HIGHER,
    LOWER,
    MIN_EFFECT,
    clopper_pearson,
    percentile_difference,
    percentile_interval,
    percentile_replicates,
    rate_difference,
)
from lab.percentiles import nearest_rank


def latencies(rng: np.random.Generator, count: int, scale: float = 1.0) -> np.ndarray:
    """Latency-like samples in ms: lognormal around 5 ms with a long right tail."""
    return rng.lognormal(mean=np.log(5.0), sigma=0.6, size=count) * scale


def test_the_order_statistic_shortcut_is_the_bootstrap() -> None:
    rng = np.random.default_rng(7)
    ordered = np.sort(latencies(rng, 60))
    shortcut = percentile_replicates(ordered, 95, np.random.default_rng(1), resamples=20_000)
    rank = nearest_rank(len(ordered), 95)
    resampled = np.sort(rng.choice(ordered, size=(20_000, len(ordered))), axis=1)[:, rank - 1]
    for q in (5, 25, 50, 75, 95):
        assert np.percentile(shortcut, q) == pytest.approx(np.percentile(resampled, q), rel=0.05)
    assert shortcut.mean() == pytest.approx(resampled.mean(), rel=0.02)


def test_an_a_a_pair_calls_nothing() -> None:
    rng = np.random.default_rng(3)
    before, after = latencies(rng, 5_000), latencies(rng, 5_000)
    for percent in (50, 95, 99):
        difference = percentile_difference(before, after, percent)
        assert difference is not None
        assert difference.low < 0 < difference.high, percent
        assert difference.call is None


def test_a_slowdown_is_called_with_its_size() -> None:
    rng = np.random.default_rng(4)
    before, after = latencies(rng, 5_000), latencies(rng, 5_000, scale=1.3)
    difference = percentile_difference(before, after, 95)
    assert difference is not None and difference.call == HIGHER
    assert difference.low > 0
    assert difference.relative == pytest.approx(0.3, abs=0.1)
    faster = percentile_difference(after, before, 50)
    assert faster is not None and faster.call == LOWER and faster.high < 0


def test_a_certain_but_small_change_is_not_called() -> None:
    rng = np.random.default_rng(5)
    before = latencies(rng, 200_000, scale=10)
    after = latencies(rng, 200_000, scale=10 * (1 + MIN_EFFECT / 2))
    difference = percentile_difference(before, after, 50)
    assert difference is not None and difference.low > 0    # real...
    assert difference.call is None                            # ...but too small to flag


def test_the_interval_covers_about_as_often_as_it_claims() -> None:
    rng = np.random.default_rng(11)
    covered = 0
    trials = 200
    for seed in range(trials):
        difference = percentile_difference(latencies(rng, 1_000), latencies(rng, 1_000), 95,
                                           seed=seed, resamples=1_000)
        assert difference is not None
        covered += difference.low <= 0 <= difference.high
    assert covered / trials >= 0.9


def test_one_runs_percentile_interval_holds_its_point() -> None:
    sample = latencies(np.random.default_rng(6), 2_000)
    bounds = percentile_interval(sample, 99)
    assert bounds is not None
    point = np.sort(sample)[nearest_rank(len(sample), 99) - 1]
    assert bounds[0] <= point <= bounds[1] and bounds[0] < bounds[1]
    assert percentile_interval(np.array([]), 99) is None


def test_throughput_is_compared_second_by_second() -> None:
    rng = np.random.default_rng(8)
    steady = rng.poisson(100, 60).astype(float)
    same = rate_difference(steady, rng.poisson(100, 60).astype(float))
    assert same is not None and same.call is None
    lower = rate_difference(steady, rng.poisson(80, 60).astype(float))
    assert lower is not None and lower.call == LOWER
    assert lower.relative == pytest.approx(-0.2, abs=0.05)
    assert rate_difference(steady, np.array([])) is None


def test_a_percentile_of_too_few_requests_is_not_called() -> None:
    rng = np.random.default_rng(9)
    before, after = latencies(rng, 100), latencies(rng, 100, scale=5)
    thin = percentile_difference(before, after, 99)     # one request above p99 per run
    assert thin is not None and not thin.enough and thin.call is None
    median = percentile_difference(before, after, 50)
    assert median is not None and median.enough and median.call == HIGHER


def test_exact_binomial_bounds_match_published_values() -> None:
    """Clopper-Pearson 95 % bounds: 0 of 10 is [0, 0.3085] (the rule of three's exact
    form, 1 - 0.025 ** (1 / 10)); 5 of 10 is [0.1871, 0.8129] (standard tables)."""
    low, high = clopper_pearson(0, 10)
    assert low == 0.0 and high == pytest.approx(1 - 0.025 ** 0.1, abs=1e-6)
    low, high = clopper_pearson(5, 10)
    assert (low, high) == (pytest.approx(0.1871, abs=1e-4), pytest.approx(0.8129, abs=1e-4))
    assert clopper_pearson(10, 10)[1] == 1.0


def test_a_rate_of_a_handful_of_requests_is_never_called_nor_below_zero() -> None:
    """An A/A pair of 20 s runs: 1 get_tweet in one, 4 in the other. Resampling seconds
    called it '+300 % [+50 %, +550 %] higher', and a like's interval went below -100 %."""
    reference, value = np.zeros(20), np.zeros(20)
    reference[3], value[[1, 5, 9, 14]] = 1, 1
    few = rate_difference(reference, value)
    assert few is not None and few.call is None and not few.enough
    interval = few.relative_interval()
    assert interval is not None and interval[0] >= -1.0 and interval[1] > 3.0
    down = rate_difference(value, reference)
    assert down is not None and down.call is None
    assert (down.relative_interval() or (0, 0))[0] >= -1.0
    # The same ratio over thousands of requests is a change.
    many = rate_difference(np.full(20, 50.0), np.full(20, 200.0))
    assert many is not None and many.enough and many.call == "higher"
