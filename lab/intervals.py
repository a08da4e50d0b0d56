"""Is a difference between two runs larger than their noise? Bootstrap intervals, exact samples.

A comparison calls a change only when the 95 % interval of the difference
excludes zero and the change is large enough to matter (MIN_EFFECT and
MIN_EFFECT_MS): a shared 2-core machine moves p99s by tens of percent between
identical runs, and a flag that fires on noise gets ignored.

A percentile's bootstrap needs no resampling loop. Resampling n latencies with
replacement and taking the k-th smallest is the same as taking the sorted
sample at index floor(n * U), where U is the k-th smallest of n uniforms: a
Beta(k, n + 1 - k) draw. One draw per replicate per run, so 2,000 replicates
cost the same for ten requests as for a million.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from lab.percentiles import nearest_rank

RESAMPLES = 2000
CONFIDENCE = 0.95
MIN_EFFECT = 0.10       # a relative change smaller than this is not called, however certain
MIN_EFFECT_MS = 1.0     # ...nor a latency change smaller than this many milliseconds
MIN_TAIL = 5            # ...nor a percentile with fewer requests than this above it in a run
                        # (a p99 of 50 requests is their maximum: its interval means little)
MIN_COUNT = 20          # ...nor a rate of fewer requests than this in a run (a count's own
                        # randomness alone is about +-45 % at 20)
HIGHER, LOWER = "higher", "lower"


@dataclass(frozen=True)
class Difference:
    """One metric of a run against the reference run, with the interval of the change."""

    reference: float
    value: float
    low: float               # the interval of value - reference
    high: float
    call: str | None         # HIGHER or LOWER when the change is real and large enough
    enough: bool = True      # both runs had enough samples to call a change at all

    @property
    def change(self) -> float:
        return self.value - self.reference

    @property
    def relative(self) -> float | None:
        return self.change / self.reference if self.reference else None

    def relative_interval(self) -> tuple[float, float] | None:
        if not self.reference:
            return None
        return self.low / self.reference, self.high / self.reference


def called(reference: float, low: float, high: float, change: float,
           min_effect: float = MIN_EFFECT, min_absolute: float = 0.0) -> str | None:
    """HIGHER or LOWER when the interval excludes zero and the change exceeds the minimum
    effect (relative to the reference, and absolute); None when it is noise or too small."""
    floor = max(min_absolute, min_effect * abs(reference))
    if low > 0 and change >= floor:
        return HIGHER
    if high < 0 and -change >= floor:
        return LOWER
    return None


def _bounds(replicates: np.ndarray) -> tuple[float, float]:
    tail = (1 - CONFIDENCE) / 2 * 100
    low, high = np.percentile(replicates, [tail, 100 - tail])
    return float(low), float(high)


def percentile_replicates(ordered: np.ndarray, percent: float, rng: np.random.Generator,
                          resamples: int = RESAMPLES) -> np.ndarray:
    """Bootstrap replicates of the nearest-rank percentile of a sorted sample."""
    count = len(ordered)
    rank = nearest_rank(count, percent)
    uniform = rng.beta(rank, count + 1 - rank, size=resamples)
    return ordered[np.minimum((uniform * count).astype(np.int64), count - 1)]


def percentile_interval(sample: np.ndarray, percent: float, seed: int = 0,
                        resamples: int = RESAMPLES) -> tuple[float, float] | None:
    """The interval of one run's `percent` percentile (None for an empty sample)."""
    if len(sample) == 0:
        return None
    return _bounds(percentile_replicates(np.sort(sample), percent,
                                         np.random.default_rng(seed), resamples))


def percentile_difference(reference: np.ndarray, value: np.ndarray, percent: float,
                          seed: int = 0, resamples: int = RESAMPLES) -> Difference | None:
    """The `percent` percentile of `value` against `reference` (latencies in ms), with its
    interval; None when either sample is empty."""
    if len(reference) == 0 or len(value) == 0:
        return None
    rng = np.random.default_rng(seed)
    before, after = np.sort(reference), np.sort(value)
    replicates = (percentile_replicates(after, percent, rng, resamples)
                  - percentile_replicates(before, percent, rng, resamples))
    low, high = _bounds(replicates)
    point_before = float(before[nearest_rank(len(before), percent) - 1])
    point_after = float(after[nearest_rank(len(after), percent) - 1])
    enough = min(len(before), len(after)) * (100 - percent) / 100 >= MIN_TAIL
    call = called(point_before, low, high, point_after - point_before,
                  min_absolute=MIN_EFFECT_MS) if enough else None
    return Difference(point_before, point_after, low, high, call, enough)


def rate_difference(reference: np.ndarray, value: np.ndarray, seed: int = 0,
                    resamples: int = RESAMPLES) -> Difference | None:
    """The mean of per-second counts (a throughput) of `value` against `reference`; None
    when either run has no whole second.

    The interval is the wider of two: resampling seconds (the load's own variation from
    second to second) and the exact bounds of a ratio of Poisson rates (a count's own
    randomness, which a handful of requests is all about), and never below a rate of 0.
    A rate of fewer than MIN_COUNT requests in either run is never called.
    """
    if len(reference) == 0 or len(value) == 0:
        return None
    rng = np.random.default_rng(seed)
    replicates = (rng.choice(value, size=(resamples, len(value))).mean(axis=1)
                  - rng.choice(reference, size=(resamples, len(reference))).mean(axis=1))
    low, high = _bounds(replicates)
    before, after = float(reference.mean()), float(value.mean())
    counts = int(reference.sum()), int(value.sum())
    if before > 0:
        ratio_low, ratio_high = poisson_ratio_interval(counts[0], len(reference), counts[1],
                                                       len(value))
        low, high = min(low, before * (ratio_low - 1)), max(high, before * (ratio_high - 1))
    low = max(low, -before)
    enough = min(counts) >= MIN_COUNT
    call = called(before, low, high, after - before) if enough else None
    return Difference(before, after, low, high, call, enough)


def poisson_ratio_interval(count_a: int, seconds_a: float, count_b: int,
                           seconds_b: float) -> tuple[float, float]:
    """The exact CONFIDENCE interval of rate_b / rate_a from two Poisson counts.

    Given n = count_a + count_b, count_b is binomial with p = rate_b s_b / (rate_a s_a +
    rate_b s_b); the Clopper-Pearson bounds of p map onto the ratio (the conditional method
    of Przyborowski and Wilenski, 1940). Infinite above when count_a is 0.
    """
    total = count_a + count_b
    if total == 0:
        return 0.0, math.inf
    low_p, high_p = clopper_pearson(count_b, total)
    scale = seconds_a / seconds_b
    high = math.inf if high_p >= 1 else high_p / (1 - high_p) * scale
    return low_p / (1 - low_p) * scale, high


def clopper_pearson(successes: int, trials: int) -> tuple[float, float]:
    """The exact (Clopper-Pearson) CONFIDENCE interval of a binomial proportion, by
    bisection on the binomial tail (no scipy: a log-factorial table and numpy)."""
    tail = (1 - CONFIDENCE) / 2
    log_factorial = np.concatenate([[0.0], np.cumsum(np.log(np.arange(1, trials + 1)))])
    ks = np.arange(trials + 1)
    log_choose = log_factorial[trials] - log_factorial[ks] - log_factorial[trials - ks]

    def at_most(p: float, k: int) -> float:
        """P(X <= k) for X ~ Binomial(trials, p)."""
        logs = (log_choose[:k + 1] + ks[:k + 1] * math.log(p)
                + (trials - ks[:k + 1]) * math.log1p(-p))
        return float(np.exp(logs).sum())

    def solve(target: float, k: int) -> float:
        """The p at which P(X <= k) = target (it falls as p grows)."""
        lo, hi = 0.0, 1.0
        for _ in range(60):
            mid = (lo + hi) / 2
            lo, hi = (mid, hi) if at_most(mid, k) > target else (lo, mid)
        return (lo + hi) / 2

    low = 0.0 if successes == 0 else solve(1 - tail, successes - 1)
    high = 1.0 if successes == trials else solve(tail, successes)
    return low, high
