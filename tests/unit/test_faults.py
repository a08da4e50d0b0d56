"""Fault specs, and the outage arithmetic on recorded requests."""

from __future__ import annotations

import pandas as pd
import pytest

from lab.errors import LabError
from lab.load.faults import FaultEvent, check_fault_source, outages_seen
from lab.runconfig import FaultSpec, RunConfig


def parse_fault(text: str) -> FaultSpec:
    return RunConfig.build(faults=[text]).faults[0]


def test_fault_specs_have_defaults_and_refuse_the_unknown() -> None:
    assert parse_fault("restart-db").start_s == 30 and parse_fault("restart-db").hold_s == 0
    spec = parse_fault("pool-exhaust@20s+5s")
    assert (spec.kind, spec.start_s, spec.hold_s, spec.label) == (
        "pool-exhaust", 20, 5, "pool-exhaust@20s+5s")
    assert parse_fault("pool-exhaust@12").hold_s == 10
    for bad in ("reboot@3s", "kill-backends@soon", "restart-db@-1s", ""):
        with pytest.raises(LabError, match="KIND"):
            parse_fault(bad)


def test_faults_the_run_cannot_inject_are_refused_before_it_starts() -> None:
    with pytest.raises(LabError, match="embedded"):
        check_fault_source((parse_fault("restart-db@5s"),), "url")
    with pytest.raises(LabError, match="after the load"):
        RunConfig.build(faults=["pool-exhaust@55s+10s"], run_time_s=60)
    config = RunConfig.build(faults=["restart-db@5s", "kill-backends@9s"], run_time_s=60)
    check_fault_source(config.faults, "embedded")


def requests(rows: list[tuple[float, float, int]]) -> pd.DataFrame:
    """(start s, latency ms, status) rows as recorded samples."""
    return pd.DataFrame({"start_ts": [r[0] for r in rows],
                         "latency_us": [int(r[1] * 1000) for r in rows],
                         "status": [r[2] for r in rows]})


def test_each_fault_owns_the_errors_until_the_next_one_begins() -> None:
    samples = requests([
        (99.0, 10, 500),                 # before any fault: not an outage error of either
        (100.2, 50, 503), (100.9, 2000, 503), (101.0, 5, 200),
        (110.1, 20, 503), (111.0, 5, 200),
    ])
    first = FaultEvent("restart-db", "restart-db@100s", injected_ts=100.0, restored_ts=100.5)
    second = FaultEvent("kill-backends", "kill-backends@110s", injected_ts=110.0,
                        restored_ts=110.0)
    seen = outages_seen([first, second], samples)
    assert seen[0].errors == 2 and seen[0].statuses == {"503": 2}
    assert seen[0].outage_s == pytest.approx(102.9 - 100.2)
    assert seen[0].recover_s == pytest.approx(102.9 - 100.5)
    assert seen[1].errors == 1 and seen[1].recover_s == pytest.approx(0.12)


def test_a_fault_clients_never_noticed_recovers_at_once() -> None:
    samples = requests([(100.1, 5, 200), (100.2, 5, 201)])
    event = FaultEvent("kill-backends", "kill-backends@100s", injected_ts=100.0,
                       restored_ts=100.0)
    seen = outages_seen([event], samples)[0]
    assert (seen.errors, seen.outage_s, seen.recover_s) == (0, 0.0, 0.0)


def test_a_fault_that_was_not_injected_has_no_outage_numbers() -> None:
    event = FaultEvent("restart-db", "restart-db@5s", error="LabError: no server")
    assert outages_seen([event], requests([(1.0, 1, 200)]))[0].recover_s is None


def test_a_run_without_faults_has_no_outages() -> None:
    assert outages_seen([], requests([(1.0, 1, 503)])) == []


def test_a_request_in_flight_across_two_faults_belongs_to_one_of_them() -> None:
    """restart-db at 60 s, kill-backends at 90 s: eight errors just after each. The restart's
    window took requests sent before 90 s, the kill's those in flight at 90 s, so the ones
    sent before and failing after 90 s counted twice: the restart 'recovered' at 90 s (29 s
    late), and 22 excused 503s for 16 failed requests read as -6 failures in V."""
    restart = FaultEvent("restart-db", "restart-db@60s", injected_ts=60.0, restored_ts=60.8)
    kill = FaultEvent("kill-backends", "kill-backends@90s", injected_ts=90.0,
                      restored_ts=90.0)
    rows = [(60.0 + i / 100, 100, 503) for i in range(8)]           # ended by 60.2 s
    rows += [(89.95 + i / 1000, 100, 503) for i in range(6)]        # in flight at 90 s
    rows += [(90.01, 50, 503), (90.02, 50, 0)]
    rows += [(t, 5, 200) for t in (61.0, 70.0, 80.0, 91.0)]
    samples = requests(rows)
    first, second = outages_seen([restart, kill], samples)
    assert first.errors + second.errors == 16 == int((samples["status"] != 200).sum())
    assert first.errors == 8 and second.errors == 8
    assert first.last_error_end_ts == pytest.approx(60.17)
    assert first.recover_s == 0.0                  # its last error ended before its end
    assert second.recover_s == pytest.approx(90.07 - 90.0)
    assert first.answered_503 + second.answered_503 == 15
