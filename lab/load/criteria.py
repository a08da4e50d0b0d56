"""Judge a run's measurements against the success criteria (docs/criteria.md).

The seed's threshold decides; the lab's stricter target is shown beside it.
Criteria a run cannot measure (SC4 without the connection experiment, SC6
without plans) say so instead of passing. Every criterion is judged once,
here, from one `Measurements`.
"""

from __future__ import annotations

import math

from lab.load.measurements import Measurements, PlanSummary, Reliability
from lab.records import RequestStats
from lab.verdicts import (
    DEFAULT_THRESHOLDS,
    FAIL,
    GENERATOR_SATURATED,
    LAB_P99_MS,
    LAB_POST_RATE,
    LAB_POWER_TIMELINE_P99_MS,
    MIN_DECISIVE_SAMPLES,
    MIN_WINDOW_S,
    NOT_IN_SCOPE,
    NOT_MEASURED,
    PASS,
    POWER_BUCKET,
    POWER_FOLLOWS,
    SCHEDULE_ON_TIME_S,
    SCHEDULE_ON_TIME_SHARE,
    WINDOW_AFTER,
    WINDOW_EXPERIMENT,
    WINDOW_MEASUREMENT,
    WINDOW_RUN,
    Verdict,
    sc4_rule,
    titles,
)

# Which window each criterion is judged on.
WINDOWS = {"SC1": WINDOW_MEASUREMENT, "SC2": WINDOW_AFTER, "SC3": WINDOW_MEASUREMENT,
           "SC4": WINDOW_EXPERIMENT, "SC5": WINDOW_MEASUREMENT, "SC6": WINDOW_AFTER,
           "T1": WINDOW_MEASUREMENT, "R": WINDOW_RUN, "V": WINDOW_RUN}

GENERATOR_CPU_LIMIT_PERCENT = 90.0
# A generator whose loop woke this late in 1 s of 20 cannot keep a schedule to the 1 s rule's
# tenth: its own evidence that it, not the target, fell behind.
GENERATOR_LOOP_LAG_LIMIT_MS = 100.0
SCHEDULE_MIN_RATIO = SCHEDULE_ON_TIME_SHARE   # the same 95 % bar, as a rate
RECOVERY_LIMIT_S = 5.0   # "recovers on its own within a few seconds"


def _ms(value: float | None) -> str:
    return "no samples" if value is None else f"{value:.1f} ms"


def _latency(stats: RequestStats, name: str, key: str) -> float | None:
    entry = stats.requests.get(name)
    return None if entry is None else getattr(entry.latency_ms, key)


def _below(value: float | None, limit: float) -> bool | None:
    return None if value is None else value < limit


def _status(ok: bool | None) -> str:
    return NOT_MEASURED if ok is None else PASS if ok else FAIL


def judge(measured: Measurements, scope: list[str],
          thresholds: dict[str, float] | None = None) -> list[Verdict]:
    """Return one verdict per criterion, in the order of docs/criteria.md."""
    limits = {**DEFAULT_THRESHOLDS, **(thresholds or {})}
    named = titles(limits)
    stats = measured.stats
    verdicts: list[Verdict] = []

    def add(cid: str, ok: bool | None, text: str, seed: str, lab: str,
            lab_met: bool | None = None, note: str = "") -> None:
        status = _status(ok) if cid in scope else NOT_IN_SCOPE
        verdicts.append(Verdict(cid, named[cid], status, text, seed, lab, lab_met, note,
                                WINDOWS.get(cid, "")))

    p95 = _latency(stats, "register_user", "p95")
    p99 = _latency(stats, "register_user", "p99")
    add("SC1", _below(p95, limits["SC1"]), f"p95 {_ms(p95)}", f"p95 < {limits['SC1']:g} ms",
        f"p99 < {LAB_P99_MS:g} ms", _below(p99, LAB_P99_MS))

    violations = measured.integrity_violations
    add("SC2", None if violations is None else violations == 0,
        "not checked" if violations is None else f"{violations} violations",
        "mirrors and counters exact", "same")

    power = stats.home_timeline_by_follow_bucket.get(POWER_BUCKET)
    p95 = power.latency_ms.p95 if power else None
    p99 = power.latency_ms.p99 if power else None
    add("SC3", _below(p95, limits["SC3"]), f"p95 {_ms(p95)} ({power.count if power else 0} "
        "requests)", f"p95 < {limits['SC3']:g} ms", f"p99 < {LAB_POWER_TIMELINE_P99_MS:g} ms",
        _below(p99, LAB_POWER_TIMELINE_P99_MS))

    if measured.sc4 is not None and "SC4" in scope:
        verdicts.append(measured.sc4)
    else:
        add("SC4", None, "-", sc4_rule(), "same",
            note="measured by `lab connections` or `lab run --connections`")

    rate, p95, p99 = measured.posting_rate, measured.posting_p95_ms, measured.posting_p99_ms
    ok5 = None if rate is None or p95 is None else (
        rate >= limits["SC5_RATE"] and p95 < limits["SC5"])
    unreachable = _unreachable_rate(measured, limits["SC5_RATE"])
    if ok5 is False and unreachable and (p95 is None or p95 < limits["SC5"]):
        ok5 = None      # not the target's fault: the load never asked for that rate
    service = measured.posting_service_p95_ms
    add("SC5", ok5, "no posting" if rate is None else
        f"{rate:.1f} tweets/s, p95 {_ms(p95)} from the schedule (service time p95 "
        f"{_ms(service)})",
        f">= {limits['SC5_RATE']:g}/s, p95 < {limits['SC5']:g} ms",
        f">= {LAB_POST_RATE:g}/s, p99 < {LAB_P99_MS:g} ms",
        None if rate is None or p99 is None else rate >= LAB_POST_RATE and p99 < LAB_P99_MS,
        note=unreachable or "")

    plans = measured.plans
    add("SC6", None if plans is None else plans.errors == 0 and plans.captured > 0
        and plans.reader_follows >= POWER_FOLLOWS and not plans.unexplained,
        "no plans captured" if plans is None else _plans_text(plans),
        f"a plan of every named statement the load ran, a user following >= {POWER_FOLLOWS} "
        "among the personas, findings listed", "same", note=_plans_note(plans))

    worst = max(((name, entry.latency_ms.p99) for name, entry in stats.requests.items()
                 if entry.latency_ms.p99 is not None), key=lambda x: x[1], default=None)
    add("T1", None if worst is None else worst[1] < LAB_P99_MS,
        "no samples" if worst is None else f"worst p99 {worst[1]:.1f} ms ({worst[0]})",
        "n/a (lab target)", f"p99 < {LAB_P99_MS:g} ms")

    add("R", *_reliability(measured.reliability), "0 lost, 0 duplicated",
        f"faults: recovered within {RECOVERY_LIMIT_S:g} s")

    cpu, ratio = measured.generator_cpu_max_percent, measured.schedule_ratio
    problems = thin_windows(measured, scope)
    if measured.unexpected_failures:
        problems.append(f"{measured.unexpected_failures} unexpected failures")
    if measured.unfinished_workers:
        problems.append(f"samples of {', '.join(measured.unfinished_workers)} did not all "
                        "arrive (the Locust process died or was cut off): judged on what did")
    if cpu is not None and cpu >= GENERATOR_CPU_LIMIT_PERCENT:
        problems.append(f"{GENERATOR_SATURATED} {cpu:.0f} % CPU")
    behind, blame = _behind_schedule(measured)
    schedule = measured.schedule
    if behind and blame != "target":
        problems += [f"{blame}: {b}" for b in behind]
    cpu_text = "CPU not sampled" if cpu is None else f"Locust CPU max {cpu:.0f} %"
    if measured.generator_loop_lag_p95_ms is not None:
        cpu_text += f", loop lag p95 {measured.generator_loop_lag_p95_ms:,.0f} ms"
    rate_text = "" if ratio is None else f", {ratio:.0%} of the scheduled rate"
    if schedule is not None:
        rate_text += (f", {schedule.on_time_share:.1%} on schedule (lag p95 "
                      f"{schedule.lag_p95_ms:,.0f} ms, max {schedule.lag_max_ms:,.0f} ms)")
    excused = (f" (+{measured.excused_failures} outage 503s, judged by R)"
               if measured.excused_failures else "")
    add("V", not problems,
        f"{measured.unexpected_failures} failures{excused}, {cpu_text}{rate_text}",
        f"0 failures, CPU < {GENERATOR_CPU_LIMIT_PERCENT:g} %, >= "
        f"{SCHEDULE_MIN_RATIO:.0%} of the scheduled rate, >= {SCHEDULE_ON_TIME_SHARE:.0%} "
        f"on schedule, a window long enough for its percentiles", "same",
        note="; ".join(problems) if problems or not behind else
        f"the target fell behind, not the generator ({'; '.join(behind)}, with the "
        f"generator's CPU and loop in time): a slow target's wait is in the paced requests' "
        f"latency from the schedule, which SC5 judges")
    return verdicts


def _behind_schedule(measured: Measurements) -> tuple[list[str], str]:
    """How the paced personas fell behind their schedule, and who is to blame.

    A paced user waits for each answer before its next action, so a slow target puts it
    behind as surely as a starved generator does. The generator is blamed only on its own
    evidence (CPU at the limit, or its event loop waking late); with that evidence in and
    clean, the target was slow ("target"); with none at all, nobody can say, and the run
    claims a load it may not have offered ("behind schedule, cause unknown")."""
    behind = []
    schedule, ratio = measured.schedule, measured.schedule_ratio
    if ratio is not None and ratio < SCHEDULE_MIN_RATIO:
        behind.append(f"{ratio:.0%} of the scheduled rate")
    if schedule is not None and schedule.on_time_share < SCHEDULE_ON_TIME_SHARE:
        behind.append(f"{schedule.on_time_share:.0%} of paced actions started within "
                      f"{SCHEDULE_ON_TIME_S:g} s of their schedule (lag p95 "
                      f"{schedule.lag_p95_ms:,.0f} ms)")
    cpu, lag = measured.generator_cpu_max_percent, measured.generator_loop_lag_p95_ms
    if cpu is None and lag is None:
        return behind, "behind schedule, cause unknown (no generator evidence)"
    if (cpu is not None and cpu >= GENERATOR_CPU_LIMIT_PERCENT) or (
            lag is not None and lag >= GENERATOR_LOOP_LAG_LIMIT_MS):
        loop = "" if lag is None else f", loop lag p95 {lag:,.0f} ms"
        return behind, f"generator-bound (Locust CPU max {cpu or 0:.0f} %{loop})"
    return behind, "target"


def _plans_text(plans: PlanSummary) -> str:
    ran = "" if plans.ran is None else f" of the {len(plans.ran)} named statements the load ran"
    return (f"{plans.captured} plans{ran} ({plans.errors} failed), {plans.findings} findings; "
            f"the power reader follows {plans.reader_follows:,}")


def _plans_note(plans: PlanSummary | None) -> str:
    if plans is None:
        return ""
    notes = []
    if plans.unexplained:
        notes.append(f"ran but not explained: {', '.join(plans.unexplained)}")
    if plans.reader_follows < POWER_FOLLOWS:
        notes.append(f"the dataset has no user following {POWER_BUCKET} accounts: use a "
                     "larger scale")
    return "; ".join(notes)


def _unreachable_rate(measured: Measurements, rate_limit: float) -> str | None:
    """Why SC5's rate cannot be met by construction: the scenario schedules its posters in
    proportion to the users, and this many users are scheduled to post less than asked."""
    offered = measured.scheduled_posting_rate
    if offered is None or offered >= rate_limit or offered <= 0:
        return None
    needed = math.ceil(measured.users * rate_limit / offered)
    # V already holds the posters to 95 % of their schedule; the suggested bar does too.
    bar = math.floor(offered * SCHEDULE_MIN_RATIO * 10) / 10
    return (f"unreachable by construction: {measured.users:,} users are scheduled to post "
            f"{offered:.1f} tweets/s, below the {rate_limit:g}/s asked; run at least "
            f"{needed:,} users, or judge this load with --threshold SC5_RATE={bar:g}")


def thin_windows(measured: Measurements, scope: list[str]) -> list[str]:
    """Why the measurement window cannot carry the percentiles its in-scope criteria decide
    on: too short, or a decisive p95 over fewer than MIN_DECISIVE_SAMPLES samples (it would
    be the window's maximum). Criteria without samples at all are SC1/SC3/SC5's own fail."""
    problems = []
    if measured.window_s is not None and measured.window_s < MIN_WINDOW_S:
        problems.append(f"measurement window {measured.window_s:.0f} s, under "
                        f"{MIN_WINDOW_S:g} s")
    need = MIN_DECISIVE_SAMPLES
    registered = measured.stats.requests.get("register_user")
    power = measured.stats.home_timeline_by_follow_bucket.get(POWER_BUCKET)
    for cid, count in (("SC1", registered.count if registered else 0),
                       ("SC3", power.count if power else 0),
                       ("SC5", measured.posting_count)):
        if cid in scope and 0 < count < need:
            problems.append(f"{cid}'s p95 rests on {count} samples (at least {need})")
    return problems


def _reliability(r: Reliability | None) -> tuple[bool | None, str]:
    """R's outcome and measured text: writes kept always; with faults, recovery too."""
    if r is None:
        return None, "no ledger"
    ok = r.lost == 0 and r.duplicated == 0 and r.faults_not_injected == 0
    text = f"{r.acknowledged:,} writes acknowledged, {r.lost} lost, {r.duplicated} duplicated"
    if r.faults:
        recovered = r.worst_recover_s is not None and r.worst_recover_s <= RECOVERY_LIMIT_S
        ok = ok and recovered
        worst = "-" if r.worst_recover_s is None else f"{r.worst_recover_s:.1f} s"
        text += f"; {r.faults} fault(s), slowest recovery {worst}"
        if r.faults_not_injected:
            text += f", {r.faults_not_injected} not injected"
    return ok, text
