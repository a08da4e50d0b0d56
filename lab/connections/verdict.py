"""SC4 from the connection experiment's levels, per path and overall (docs/criteria.md).

(a) paced: p95 at the most clients <= 1.5 x p95 at the fewest, at the same per-client pace,
    each level's p95 being its median over the rounds (config `rounds`);
(b) saturating: throughput at the most clients >= 90 % of the best throughput of the sweep,
    each level's throughput being its median over the rounds.
A level with errors has degraded whatever its numbers say. A path holds when both do at the
highest level asked for; SC4 passes when some path holds at SC4_CLIENTS or more (that path
is how the system should take 1000 users): a sweep that stops below it has not measured the
criterion, whatever its paths did. A paced p95 over fewer than MIN_DECISIVE_SAMPLES samples
is its level's maximum, not a p95: such a path is "not measured" too, as is a path nobody
could measure (a missing tool). None of these is ever a pass.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from lab.connections.results import MEASURED, LevelResult
from lab.verdicts import (
    FAIL,
    MIN_DECISIVE_SAMPLES,
    NOT_MEASURED,
    PACED_P95_RATIO_MAX,
    PASS,
    SATURATING_SHARE_MIN,
    SC4_CLIENTS,
    SC4_FEWEST,
    WINDOW_EXPERIMENT,
    Verdict,
    sc4_rule,
    titles,
)


@dataclass
class PathVerdict:
    path: str
    paced: str                 # pass | fail | not measured
    paced_text: str
    saturating: str
    saturating_text: str
    highest_clients: int | None
    saturating_share: str = ""     # "98 % of peak, rounds 94-100 %": for the one-line verdict

    @property
    def status(self) -> str:
        if PASS == self.paced == self.saturating:
            return PASS
        return FAIL if FAIL in (self.paced, self.saturating) else NOT_MEASURED


def _levels(results: list[LevelResult], path: str, mode: str) -> list[LevelResult]:
    return sorted((r for r in results if r.path == path and r.mode == mode),
                  key=lambda r: r.clients)


def _stop_reason(levels: list[LevelResult]) -> str | None:
    last = levels[-1] if levels else None
    return None if last is None or last.status == MEASURED else (
        f"stopped below {last.clients:,} clients: {last.note or 'errors'}")


def _not_run(high: LevelResult) -> str:
    why = f" after {high.error_count:,} errors" if high.error_count else ""
    return f"not run beyond {high.clients:,} clients{why}"


def _judged(levels: list[LevelResult], high: LevelResult, highest: int, within: bool,
            text: str) -> tuple[str, str]:
    """Fail a sweep that stopped short of `highest` or erred at its top; else the rule decides."""
    if high.clients < highest:
        return FAIL, f"{text}; {_stop_reason(levels) or _not_run(high)}"
    if high.error_count:
        return FAIL, f"{text}; {high.error_count:,} errors at {high.clients:,} clients"
    return (PASS if within else FAIL), text


def _paced(levels: list[LevelResult], highest: int) -> tuple[str, str]:
    """Judge on each level's median p95 over the rounds, with each round's own ratio as the
    spread. The fewest clients give few samples (10 at a human pace: about 50 in 20 s, so
    their p95 is the third-largest), and a fresh copy's first level reads cold buffers: one
    round's p95 there is a draw, the median of interleaved rounds a measurement."""
    measured = [r for r in levels if r.status == MEASURED and r.p95_ms is not None]
    by_clients = _by_clients(measured)
    if len(by_clients) < 2:
        stopped = _stop_reason(levels)
        return (FAIL, stopped) if stopped else (NOT_MEASURED,
                                                "fewer than two paced levels measured")
    low, high = min(by_clients), max(by_clients)
    thin = [r for r in (min(by_clients[c], key=lambda r: r.requests) for c in (low, high))
            if r.requests < MIN_DECISIVE_SAMPLES]
    if thin:
        return NOT_MEASURED, "; ".join(
            f"p95 at {r.clients:,} clients rests on {r.requests} samples (at least "
            f"{MIN_DECISIVE_SAMPLES}): run longer or at a brisker --pace" for r in thin)
    p95 = {clients: _median([r.p95_ms or 0.0 for r in rs]) for clients, rs in by_clients.items()}
    ratio = p95[high] / p95[low] if p95[low] else float("inf")
    text = (f"p95 {p95[high]:.1f} ms at {high:,} vs {p95[low]:.1f} ms at "
            f"{low:,} clients ({ratio:.2f}x)")
    rounds = sorted({r.round for r in measured})
    if len(rounds) > 1:
        ratios = _per_round(measured, rounds, high, low, lambda r: r.p95_ms or 0.0)
        spread = f"{min(ratios):.2f}x to {max(ratios):.2f}x" if ratios else "none complete"
        text += f" (medians of {len(rounds)} rounds; per round {spread})"
    text += _explained(by_clients, low, high)
    cut = [r for r in levels if r.status != MEASURED]
    if cut:
        return FAIL, f"{text}; {_stop_reason(cut)}"
    worst = max(by_clients[high], key=lambda r: r.error_count)     # any round's errors count
    return _judged(levels, worst, highest, ratio <= PACED_P95_RATIO_MAX, text)


def _explained(by_clients: dict[int, list[LevelResult]], low: int, high: int) -> str:
    """What the paced levels at both ends say of where a tail grew, each the median over the
    rounds: the generator waking late, this machine's CPUs busy (generator and server share
    them when the lab started the server), and the API's own time of a request."""
    def ends(value: Callable[[LevelResult], float | None], unit: str, what: str) -> str:
        medians = [[v for r in by_clients[c] if (v := value(r)) is not None] for c in (low, high)]
        if [len(m) for m in medians] != [len(by_clients[c]) for c in (low, high)]:
            return ""       # some round did not measure it (an old record, a silent target)
        return (f"; {what} {_median(medians[0]):.1f}{unit} at {low:,}, "
                f"{_median(medians[1]):.1f}{unit} at {high:,} clients")

    def timing(part: str) -> Callable[[LevelResult], float | None]:
        return lambda r: r.server_timing_ms.get(part, {}).get("p95")

    return (ends(lambda r: r.client_lag_ms.get("p95"), " ms",
                 "the generator's own loop woke late by p95")
            + ends(lambda r: r.machine_busy_percent, " %", "this machine's CPUs were busy")
            + ends(timing("app"), " ms", "the API's own time of a request (Server-Timing) p95")
            + ends(timing("db"), " ms", "its database round trips p95"))


def _by_clients(measured: list[LevelResult]) -> dict[int, list[LevelResult]]:
    grouped: dict[int, list[LevelResult]] = defaultdict(list)
    for r in measured:
        grouped[r.clients].append(r)
    return grouped


def _median(values: list[float]) -> float:
    return float(statistics.median(values))


def _saturating(levels: list[LevelResult], highest: int) -> tuple[str, str, str]:
    """Judge on each level's median throughput over the rounds, with the rounds' spread.

    One short level is a coin toss on a shared machine (the peak moves by a quarter
    from run to run); the median of interleaved rounds is a measurement.
    """
    measured = [r for r in levels if r.status == MEASURED]
    if not measured:
        reason = _stop_reason(levels)
        return (FAIL, reason, "") if reason else (NOT_MEASURED, "no saturating level measured",
                                                  "")
    by_clients = _by_clients(measured)
    medians = {clients: _median([r.throughput_per_s for r in rs])
               for clients, rs in by_clients.items()}
    peak_clients = max(medians, key=lambda c: medians[c])
    high_clients = max(medians)
    share = medians[high_clients] / medians[peak_clients] if medians[peak_clients] else 0.0
    highs = by_clients[high_clients]
    text = (f"{medians[high_clients]:,.0f}/s at {high_clients:,} clients = {share:.0%} of the "
            f"peak {medians[peak_clients]:,.0f}/s at {peak_clients:,}")
    brief = f"{share:.0%} of peak"
    rounds = sorted({r.round for r in measured})
    if len(rounds) > 1:
        # Each round's share on the judged levels (its `high` level against its `peak`
        # level, the level with the best median): the spread around the median share. A
        # round's own best level would be a maximum of noisy values, biased up, and no
        # longer the share judged.
        shares = _per_round(measured, rounds, high_clients, peak_clients,
                            lambda r: r.throughput_per_s)
        spread = f"{min(shares):.0%} to {max(shares):.0%}" if shares else "none complete"
        text += f" (medians of {len(rounds)} rounds; per round {spread})"
        brief += f", rounds {spread}"
    high = max(highs, key=lambda r: r.error_count)     # any round's errors count
    stopped = [r for r in levels if r.status != MEASURED]
    if stopped:
        return FAIL, f"{text}; {_stop_reason(stopped)}", brief
    return (*_judged(levels, high, highest, share >= SATURATING_SHARE_MIN, text), brief)


def _per_round(measured: list[LevelResult], rounds: list[int], top: int, bottom: int,
               value: Callable[[LevelResult], float]) -> list[float]:
    """Each round's own ratio of `value` at `top` clients to `value` at `bottom` clients,
    for the rounds that measured both."""
    ratios: list[float] = []
    for number in rounds:
        at = {r.clients: value(r) for r in measured if r.round == number}
        if at.get(bottom) and top in at:
            ratios.append(at[top] / at[bottom])
    return ratios


def judge_paths(results: list[LevelResult], paths: list[str], highest: int,
                unmeasured: dict[str, str] | None = None) -> list[PathVerdict]:
    """Each path's verdict; a path in `unmeasured` (path -> why, e.g. a missing tool) is
    "not measured" with its reason, never a failure."""
    verdicts = []
    for path in paths:
        why = (unmeasured or {}).get(path)
        if why is not None:
            verdicts.append(PathVerdict(path, NOT_MEASURED, why, NOT_MEASURED, why, None))
            continue
        paced, paced_text = _paced(_levels(results, path, "paced"), highest)
        saturating, saturating_text, share = _saturating(_levels(results, path, "saturating"),
                                                         highest)
        reached = [r.clients for r in results if r.path == path and r.status == MEASURED]
        verdicts.append(PathVerdict(path, paced, paced_text, saturating, saturating_text,
                                    max(reached, default=None), share))
    return verdicts


def sc4_verdict(paths: list[PathVerdict], lowest: int, highest: int) -> Verdict:
    """The run-level SC4 verdict, naming the paths it rests on.

    Some path holds: pass. Else a path that could not be measured (a missing tool) might
    have held, so SC4 is "not measured", not failed. Else fail.
    """
    holding = [p.path for p in paths if p.status == PASS]
    failing = [p.path for p in paths if p.status == FAIL]
    unmeasured = [p for p in paths if p.highest_clients is None and p.status == NOT_MEASURED]
    if highest < SC4_CLIENTS:
        status = FAIL if failing and not holding and not unmeasured else NOT_MEASURED
    elif holding:
        status = PASS
    elif unmeasured:
        status = NOT_MEASURED
    else:
        status = FAIL if failing else NOT_MEASURED
    measured = "; ".join(f"{p.path}: {p.status}" + (f" (saturating {p.saturating_share})"
                                                    if p.saturating_share else "")
                         for p in paths) or "no path measured"
    note = f"levels {lowest:,} to {highest:,} clients"
    if (lowest, highest) != (SC4_FEWEST, SC4_CLIENTS):
        note += f" (the criterion names {SC4_FEWEST:,} to {SC4_CLIENTS:,})"
    if highest < SC4_CLIENTS:
        note += (f"; not measured below {SC4_CLIENTS:,} clients: no level reached the "
                 "criterion's count")
    if holding:
        note += f"; holds through {', '.join(holding)}"
    rests_on = [p.path for p in paths if p.highest_clients is not None]
    note += f"; rests on {', '.join(rests_on) or 'no path'}"
    for p in unmeasured:
        note += f"; {p.path} not measured: {p.paced_text}"
    return Verdict("SC4", titles()["SC4"], status, measured, sc4_rule(lowest, highest),
                   "same", note=note, window=WINDOW_EXPERIMENT)



def as_dicts(paths: list[PathVerdict]) -> list[dict[str, Any]]:
    return [{**asdict(p), "status": p.status} for p in paths]
