"""SC4 judged from connection levels: ratios, peaks, errors and stopped paths."""

from __future__ import annotations

from lab.connections.results import STOPPED, LevelResult
from lab.connections.verdict import judge_paths, sc4_verdict


def level(path: str, mode: str, clients: int, p95: float, per_s: float,
          errors: dict[str, int] | None = None, requests: int = 500) -> LevelResult:
    return LevelResult(path, mode, clients, requests=requests,
                       latency_ms={"p50": p95 / 2, "p95": p95},
                       throughput_per_s=per_s, errors=errors or {})


def holding_api(fewest: int, most: int) -> list[LevelResult]:
    """A path that holds by both rules between `fewest` and `most` clients."""
    return [level("api", "paced", fewest, 10.0, 2.5), level("api", "paced", most, 11.0, 250),
            level("api", "saturating", fewest, 5.0, 500),
            level("api", "saturating", most, 9.0, 490)]


def test_sc4_cannot_pass_below_1000_clients_however_well_a_path_holds() -> None:
    (api,) = judge_paths(holding_api(2, 4), ["api"], 4)
    assert api.status == "pass"             # the path held at the levels asked...
    verdict = sc4_verdict([api], 2, 4)
    assert verdict.status == "not measured"  # ...but the criterion names 1000 clients
    assert "not measured below 1,000 clients" in verdict.note
    (api,) = judge_paths(holding_api(10, 1000), ["api"], 1000)
    assert sc4_verdict([api], 10, 1000).status == "pass"
    (api,) = judge_paths(holding_api(10, 1500), ["api"], 1500)
    assert sc4_verdict([api], 10, 1500).status == "pass"


def test_a_paced_p95_needs_20_samples_at_both_ends() -> None:
    results = holding_api(10, 1000)
    results[0].requests = 19                # the fewest clients' p95 is their maximum
    (api,) = judge_paths(results, ["api"], 1000)
    assert api.paced == "not measured" and api.status == "not measured"
    assert "p95 at 10 clients rests on 19 samples (at least 20)" in api.paced_text
    assert sc4_verdict([api], 10, 1000).status == "not measured"
    results[0].requests = 20
    (api,) = judge_paths(results, ["api"], 1000)
    assert api.paced == "pass"
    results[1].requests = 5
    (api,) = judge_paths(results, ["api"], 1000)
    assert "p95 at 1,000 clients rests on 5 samples" in api.paced_text


def test_a_path_holds_when_p95_stays_within_1_5x_and_throughput_within_90_percent() -> None:
    results = [level("api", "paced", 10, 10.0, 2.5), level("api", "paced", 1000, 14.9, 250),
               level("api", "saturating", 10, 5.0, 500), level("api", "saturating", 100, 9.0, 600),
               level("api", "saturating", 1000, 90.0, 545)]
    (api,) = judge_paths(results, ["api"], 1000)
    assert (api.paced, api.saturating, api.status) == ("pass", "pass", "pass")
    assert "1.49x" in api.paced_text and "91% of the peak 600/s at 100" in api.saturating_text
    verdict = sc4_verdict([api], 10, 1000)
    assert verdict.status == "pass" and "holds through api" in verdict.note
    assert "the criterion names" not in verdict.note


def test_degradation_errors_and_a_stopped_sweep_each_fail() -> None:
    results = [
        level("direct", "paced", 10, 10.0, 2.5), level("direct", "paced", 1000, 15.1, 250),
        level("direct", "saturating", 10, 5.0, 1000), level("direct", "saturating", 1000, 9, 890),
        level("api", "paced", 10, 10.0, 2.5),
        level("api", "paced", 1000, 11.0, 240, errors={"http_5xx": 3}),
        level("pgbouncer", "paced", 10, 10.0, 2.5),
        LevelResult("pgbouncer", "paced", 1000, status=STOPPED, note="max_connections = 100"),
    ]
    direct, api, bouncer = judge_paths(results, ["direct", "api", "pgbouncer"], 1000)
    assert direct.paced == "fail" and "1.51x" in direct.paced_text
    assert direct.saturating == "fail" and "89% of the peak" in direct.saturating_text
    assert api.paced == "fail" and "3 errors at 1,000 clients" in api.paced_text
    assert api.saturating == "not measured"
    assert bouncer.paced == "fail" and "max_connections = 100" in bouncer.paced_text
    verdict = sc4_verdict([direct, api, bouncer], 10, 1000)
    assert verdict.status == "fail"
    assert verdict.measured == ("direct: fail (saturating 89% of peak); api: fail; "
                                "pgbouncer: fail")


def test_saturating_rounds_are_judged_on_each_levels_median_with_the_spread_shown() -> None:
    def saturating(clients: int, per_s: float, number: int) -> LevelResult:
        result = level("api", "saturating", clients, 50.0, per_s)
        result.round = number
        return result

    # Round 2 alone would fail (1000 clients at 80 % of its 100); the medians hold (95 %).
    # Each round's share is taken on the same levels as the median's (1000 against 100),
    # so the spread brackets the share judged.
    per_round = [(800, 900, 860), (820, 950, 760), (790, 880, 855)]
    results = [level("api", "paced", 10, 10.0, 2.5), level("api", "paced", 1000, 11.0, 250)]
    results += [saturating(clients, per_s, number)
                for number, row in enumerate(per_round)
                for clients, per_s in zip((10, 100, 1000), row, strict=True)]
    (api,) = judge_paths(results, ["api"], 1000)
    assert api.saturating == "pass", api.saturating_text
    assert api.saturating_text.startswith("855/s at 1,000 clients = 95% of the peak 900/s at 100")
    assert "medians of 3 rounds; per round 80% to 97%" in api.saturating_text
    assert api.saturating_share == "95% of peak, rounds 80% to 97%"
    assert "api: pass (saturating 95% of peak, rounds 80% to 97%)" in sc4_verdict(
        [api], 10, 1000).measured
    # A round whose best level is another one (10) still reports its 1000 against its 100.
    results[2].throughput_per_s = 1100.0        # round 1, 10 clients: its own best level
    (api,) = judge_paths(results, ["api"], 1000)
    assert "per round 80% to 97%" in api.saturating_text
    results[2].throughput_per_s = 800.0
    # Errors in any round at the top level fail the path, whatever the medians say.
    results[-1].errors = {"timeout": 2}
    (api,) = judge_paths(results, ["api"], 1000)
    assert api.saturating == "fail" and "2 errors at 1,000 clients" in api.saturating_text


def test_paced_rounds_are_judged_on_each_levels_median_p95_with_each_rounds_ratio() -> None:
    def paced(clients: int, p95: float, number: int, requests: int = 55) -> LevelResult:
        result = level("api", "paced", clients, p95, clients * 0.25, requests=requests)
        result.round = number
        return result

    saturating = [level("api", "saturating", 10, 5.0, 500),
                  level("api", "saturating", 1000, 9.0, 490)]
    # Round 1 read cold buffers at 10 clients (24.5 ms): alone it would pass at 0.54x;
    # round 3 alone would fail at 1.63x. The medians, 10.1 and 13.3 ms, are 1.32x.
    per_round = [(24.5, 13.3), (10.1, 12.9), (8.2, 13.4)]
    results = saturating + [paced(clients, p95, number)
                            for number, row in enumerate(per_round)
                            for clients, p95 in zip((10, 1000), row, strict=True)]
    (api,) = judge_paths(results, ["api"], 1000)
    assert api.paced == "pass", api.paced_text
    assert api.paced_text == ("p95 13.3 ms at 1,000 vs 10.1 ms at 10 clients (1.32x) "
                              "(medians of 3 rounds; per round 0.54x to 1.63x)")
    # The medians can fail where one round alone would pass.
    results[-1].latency_ms["p95"] = 16.0        # round 3 at 1000: its median is now 16.0
    results[5].latency_ms["p95"] = 15.5         # round 2 at 1000
    (api,) = judge_paths(results, ["api"], 1000)
    assert api.paced == "fail" and "(1.53x)" in api.paced_text
    # Every round's p95 needs its samples, and errors in any round at the top fail.
    results[5].latency_ms["p95"] = 12.9
    results[-1].latency_ms["p95"] = 13.4
    results[4].requests = 12                    # round 2, 10 clients
    (api,) = judge_paths(results, ["api"], 1000)
    assert api.paced == "not measured"
    assert "p95 at 10 clients rests on 12 samples" in api.paced_text
    results[4].requests = 55
    # The generator's own loop lag, where measured, is told beside the ratio (medians).
    for r, lag in zip(results[2:], (0.3, 4.0, 0.2, 6.0, 0.4, 9.0), strict=True):
        r.client_lag_ms = {"p95": lag}
    (api,) = judge_paths(results, ["api"], 1000)
    assert api.paced_text.endswith("; the generator's own loop woke late by p95 0.3 ms at "
                                   "10, 6.0 ms at 1,000 clients")
    # So are this machine's CPUs and the API's own time, where every round measured them.
    for r, busy, app, db in zip(results[2:], (3.0, 50.0, 2.0, 60.0, 4.0, 55.0),
                                (4.0, 9.0, 5.0, 8.0, 4.5, 12.0), (3.0, 7.0, 3.5, 6.0, 3.2, 9.0),
                                strict=True):
        r.machine_busy_percent = busy
        r.server_timing_ms = {"app": {"p50": 1.0, "p95": app}, "db": {"p50": 1.0, "p95": db}}
    (api,) = judge_paths(results, ["api"], 1000)
    assert api.paced_text.endswith(
        "; this machine's CPUs were busy 3.0 % at 10, 55.0 % at 1,000 clients; the API's own "
        "time of a request (Server-Timing) p95 4.5 ms at 10, 9.0 ms at 1,000 clients; its "
        "database round trips p95 3.2 ms at 10, 7.0 ms at 1,000 clients")
    results[3].server_timing_ms = {}            # a target that sends no Server-Timing
    (api,) = judge_paths(results, ["api"], 1000)
    assert "Server-Timing" not in api.paced_text and "busy 3.0 %" in api.paced_text
    results[5].errors = {"http_5xx": 1}         # round 2, 1000 clients
    (api,) = judge_paths(results, ["api"], 1000)
    assert api.paced == "fail" and "1 errors at 1,000 clients" in api.paced_text


def test_a_path_missing_its_tool_is_not_measured_and_never_fails_sc4() -> None:
    failing_direct = [level("direct", "paced", 10, 10.0, 2.5),
                      level("direct", "paced", 1000, 30.0, 250),
                      level("direct", "saturating", 10, 5.0, 1000),
                      level("direct", "saturating", 1000, 9.0, 300)]
    missing = {"pgbouncer": "pgbouncer missing (get it with `lab tools --install`)"}
    direct, bouncer = judge_paths(failing_direct, ["direct", "pgbouncer"], 1000, missing)
    assert direct.status == "fail"
    assert (bouncer.status, bouncer.paced_text) == ("not measured", missing["pgbouncer"])
    verdict = sc4_verdict([direct, bouncer], 10, 1000)
    assert verdict.status == "not measured"
    assert verdict.measured == "direct: fail (saturating 30% of peak); pgbouncer: not measured"
    assert "rests on direct" in verdict.note
    assert "pgbouncer not measured: pgbouncer missing" in verdict.note
    # With a holding path, SC4 passes and still says which path the verdict rests on.
    holding = [level("api", "paced", 10, 10.0, 2.5), level("api", "paced", 1000, 11.0, 250),
               level("api", "saturating", 10, 5.0, 500),
               level("api", "saturating", 1000, 9.0, 480)]
    api, bouncer = judge_paths(holding, ["api", "pgbouncer"], 1000, missing)
    verdict = sc4_verdict([api, bouncer], 10, 1000)
    assert verdict.status == "pass" and "holds through api; rests on api" in verdict.note
