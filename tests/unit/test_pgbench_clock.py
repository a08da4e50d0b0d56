"""pgbench's 0 µs transactions: a few are its clock's rounding, many mean it was starved."""

from __future__ import annotations

import numpy as np

from lab.generators import CLOCK_ZERO_SHARE_MAX, PgbenchRun


def run_with(latency_us: list[int]) -> PgbenchRun:
    return PgbenchRun(0, "", "", np.array(latency_us, dtype=np.int64), 0.1)


def test_a_few_zeros_keep_the_latencies_and_many_withhold_them() -> None:
    logged = 1000
    allowed = int(CLOCK_ZERO_SHARE_MAX * logged)
    assert run_with([0] * allowed + [900] * (logged - allowed)).latency_withheld == ""
    starved = run_with([0] * (allowed + 1) + [900] * (logged - allowed - 1))
    assert starved.latency_withheld.startswith(
        f"pgbench logged {allowed + 1:,} of {logged:,} transactions as 0 µs")
    assert run_with([]).latency_withheld == ""      # nothing logged: nothing to withhold
