"""One definition of a percentile, checked against numpy's inverted CDF (nearest rank)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from lab.bench import percentiles_ms
from lab.percentiles import latency_summary, per_group, percentile


@pytest.mark.parametrize("count", [1, 2, 7, 20, 21, 100, 1001])
@pytest.mark.parametrize("percent", [50, 90, 95, 99, 99.9])
def test_percentile_is_the_nearest_rank(count: int, percent: float) -> None:
    values = np.random.default_rng(count).exponential(10.0, count)
    expected = float(np.percentile(values, percent, method="inverted_cdf"))
    assert percentile(values, percent) == expected


def test_per_second_chart_percentiles_and_bench_use_the_same_rank() -> None:
    """Charts read numpy's "higher" and `lab bench` linear interpolation: on 1..20 their
    medians were 11 and 10.5, the table's 10."""
    values = pd.Series(np.arange(1.0, 21.0))
    groups = pd.Series([0] * 20)
    assert per_group(values, groups, 50).iloc[0] == 10.0
    assert percentiles_ms(values.to_numpy()) == (10.0, 20.0)
    assert latency_summary(values.to_numpy() * 1000)["p50"] == 10.0
    assert percentile(np.array([]), 50) is None
    assert all(np.isnan(percentiles_ms(np.array([]))))
