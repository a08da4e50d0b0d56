"""Regression gates and the noise floor, on numbers: what a --fail-on string means, when a
gate fails (beyond its limit and outside the noise), what exit code results, and how a
measured noise floor widens the index's limits."""

from __future__ import annotations

import pytest

from lab.errors import LabError
from lab.intervals import HIGHER, LOWER, Difference
from lab.report.differences import ALL, RATE
from lab.report.gates import Gate, judge_gate, parse_gates
from lab.report.noise import beyond_spread
from lab.report.trends import _regressed
from lab.verdicts import (
    EXIT_CRITERION_FAILED,
    EXIT_INVALID_RUN,
    EXIT_PASSED,
    EXIT_REGRESSION,
    gated_exit_code,
    worst_exit_code,
)


def test_a_fail_on_string_reads_as_gates() -> None:
    gates = parse_gates("home_timeline.p99:+20%, throughput:-10%,all.p95:+5.5%,like.rps:-30%")
    assert gates == [Gate("home_timeline", "p99", 0.2), Gate(ALL, RATE, -0.1),
                     Gate(ALL, "p95", 0.055), Gate("like", RATE, -0.3)]
    assert [g.label for g in gates] == ["home_timeline.p99", "throughput", "all.p95",
                                        "like.rps"]


@pytest.mark.parametrize(("spec", "named"), [
    ("home_timeline.p99:20%", "home_timeline.p99:20%"),       # no sign
    ("home_timeline.p42:+20%", "home_timeline.p42:+20%"),     # no such percentile
    ("home_timeline:+20%", "names no metric"),
    ("home_timeline.p99:-20%", "a latency's limit is a growth"),
    ("throughput:+10%", "a rate's a fall"),
    ("", "cannot read ''"),
])
def test_a_bad_fail_on_string_is_refused_naming_its_part(spec: str, named: str) -> None:
    with pytest.raises(LabError, match="--fail-on") as refused:
        parse_gates(spec)
    assert named in str(refused.value)


def test_a_latency_gate_fails_only_beyond_its_limit_and_outside_the_noise() -> None:
    gate = Gate("home_timeline", "p99", 0.2)
    real = Difference(10.0, 15.0, 3.0, 7.0, HIGHER)
    assert not judge_gate(gate, real).passed
    assert "outside the noise" in judge_gate(gate, real).message
    noisy = Difference(10.0, 15.0, -2.0, 9.0, None)
    assert judge_gate(gate, noisy).passed
    assert "within the noise" in judge_gate(gate, noisy).message
    small = Difference(10.0, 11.5, 1.0, 2.0, HIGHER)       # real, but +15 % < +20 %
    assert judge_gate(gate, small).passed
    faster = Difference(10.0, 5.0, -6.0, -4.0, LOWER)
    assert judge_gate(gate, faster).passed


def test_a_throughput_gate_fails_on_a_real_fall() -> None:
    gate = Gate(ALL, RATE, -0.1)
    assert not judge_gate(gate, Difference(100.0, 80.0, -25.0, -15.0, LOWER)).passed
    assert judge_gate(gate, Difference(100.0, 120.0, 15.0, 25.0, HIGHER)).passed


def test_a_gate_that_cannot_be_checked_fails() -> None:
    result = judge_gate(Gate("no_such_request", "p95", 0.2), None)
    assert not result.passed and "not measured" in result.message


def test_a_failed_gate_turns_only_a_pass_into_its_own_exit_code() -> None:
    assert gated_exit_code(EXIT_PASSED, gates_passed=False) == EXIT_REGRESSION
    assert gated_exit_code(EXIT_PASSED, gates_passed=True) == EXIT_PASSED
    assert gated_exit_code(EXIT_CRITERION_FAILED, gates_passed=False) == EXIT_CRITERION_FAILED
    assert worst_exit_code([EXIT_PASSED, EXIT_REGRESSION]) == EXIT_REGRESSION
    assert worst_exit_code([EXIT_REGRESSION, EXIT_CRITERION_FAILED]) == EXIT_CRITERION_FAILED
    assert worst_exit_code([EXIT_INVALID_RUN, EXIT_REGRESSION]) == EXIT_INVALID_RUN


def test_the_noise_floor_widens_the_index_limit_where_it_is_wider() -> None:
    noise = {"metrics": {"like.p99": {"spread": 0.45}, "throughput": {"spread": 0.05}}}
    assert _regressed("like p99 ms", 13.0, 10.0) == "+10%"            # +30 % over a fixed 10 %
    assert _regressed("like p99 ms", 13.0, 10.0, noise) is None       # within 45 % of noise
    assert _regressed("like p99 ms", 15.0, 10.0, noise) == "+45% (noise floor)"
    assert _regressed("throughput req/s", 85.0, 100.0, noise) == "-10%"   # noise narrower


def test_a_gate_holds_a_change_to_the_measured_run_to_run_spread() -> None:
    gate = Gate(ALL, "p95", 0.2)
    # An A/A pair measured here at small scale: the interval excluded zero at +59 %.
    between_runs = Difference(7.7, 12.2, 3.3, 5.0, HIGHER)
    assert not judge_gate(gate, between_runs).passed                # no noise floor: called
    held = judge_gate(gate, between_runs, width=0.8)                # the spread of 3 A/A runs
    assert held.passed and "within the run-to-run spread (80%)" in held.message
    assert not judge_gate(gate, Difference(7.7, 31.7, 23.0, 25.0, HIGHER), width=0.8).passed


def test_a_difference_within_the_spread_is_no_longer_called() -> None:
    difference = Difference(10.0, 14.0, 3.0, 5.0, HIGHER)
    assert beyond_spread(difference, 0.5).call is None
    assert beyond_spread(difference, 0.3).call == HIGHER
    assert beyond_spread(difference, 0.0) is difference
