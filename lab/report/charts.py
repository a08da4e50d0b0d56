"""Charts for the reports: pure functions, data in, matplotlib figure out (Agg, no display).

Time axes are seconds since the load started; latency axes are logarithmic
because a median of 5 ms and a p99 of 700 ms must both be readable.
"""

from __future__ import annotations

import base64
import io

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from lab.percentiles import per_group, percentile  # noqa: E402
from lab.targets import REMOTE_API  # noqa: E402
from lab.verdicts import POWER_BUCKET  # noqa: E402

WIDTH_IN, HEIGHT_IN = 9.0, 3.4
MAX_SERIES = 8
BUCKET_ORDER = ["0-99", "100-999", POWER_BUCKET]


def titled_figure(title: str, height: float = HEIGHT_IN) -> tuple[Figure, Axes]:
    figure = Figure(figsize=(WIDTH_IN, height), dpi=96, layout="constrained")
    axes: Axes = figure.subplots()
    axes.set_title(title, fontsize=11, loc="left")
    axes.grid(True, alpha=0.3)
    return figure, axes


Warmup = tuple[float, float]     # end of the spawn ramp, start of the measurement window (s)


def mark_warmup(axes: Axes, warmup: Warmup | None) -> None:
    """Shade the warm-up (judged by no criterion) and mark where the spawn ramp ended."""
    if warmup is None:
        return
    ramp_end_s, measured_from_s = warmup
    if measured_from_s > 0:
        axes.axvspan(0, measured_from_s, color="grey", alpha=0.12, linewidth=0)
        axes.text(0, 1.0, " warm-up", transform=axes.get_xaxis_transform(), fontsize=8,
                  color="grey", va="top")
    if ramp_end_s > 0:
        axes.axvline(ramp_end_s, color="grey", linestyle=":", linewidth=1)


Outage = tuple[float, float, str]     # start and end, seconds since the run's origin; label


Event = tuple[float, str]     # seconds since the run's origin, what happened


def mark_events(axes: Axes, events: list[Event]) -> None:
    """A thin line at each server event (checkpoint, vacuum, analyze), its kind beside it."""
    for at, label in events:
        axes.axvline(at, color="tab:purple", linewidth=0.7, alpha=0.7)
        axes.text(at, 0.02, f" {label}", transform=axes.get_xaxis_transform(), fontsize=7,
                  color="tab:purple", rotation=90, va="bottom")


def mark_outages(axes: Axes, outages: list[Outage]) -> None:
    """Shade each fault's outage, as clients saw it, and name the fault."""
    for start, end, label in outages:
        axes.axvspan(start, max(end, start + 0.5), color="tab:red", alpha=0.15, linewidth=0)
        axes.text(start, 0.92, f" {label}", transform=axes.get_xaxis_transform(),
                  fontsize=8, color="tab:red", va="top")


def _seconds(samples: pd.DataFrame, origin: float) -> pd.Series:
    return (samples["start_ts"] - origin).astype(int)


def _ok(samples: pd.DataFrame) -> pd.DataFrame:
    return samples[samples["failure"].isna()]


def _top_names(samples: pd.DataFrame) -> list[str]:
    return list(samples["name"].value_counts().index[:MAX_SERIES])


def requests_per_second(samples: pd.DataFrame, origin: float,
                        warmup: Warmup | None = None,
                        outages: list[Outage] | None = None) -> Figure:
    """Completed requests per second, one line per request name (the busiest few)."""
    figure, axes = titled_figure("Requests per second by request name")
    seconds = _seconds(samples, origin)
    names = _top_names(samples)
    table = pd.crosstab(seconds, samples["name"].where(samples["name"].isin(names), "other"))
    for column in table.columns:
        axes.plot(table.index, table[column], label=column, linewidth=1)
    axes.plot(table.index, table.sum(axis=1), label="all", color="black", linewidth=1.5)
    axes.set_xlabel("seconds since start")
    axes.set_ylabel("requests/s")
    axes.legend(fontsize=7, ncol=3, loc="upper left")
    mark_warmup(axes, warmup)
    mark_outages(axes, outages or [])
    return figure


def latency_over_time(samples: pd.DataFrame, origin: float,
                      warmup: Warmup | None = None,
                      outages: list[Outage] | None = None,
                      events: list[Event] | None = None) -> Figure:
    """p50, p95 and p99 of all successful requests, second by second, with the server's
    events marked."""
    figure, axes = titled_figure("Latency percentiles per second (all requests)")
    ok = _ok(samples)
    ms, seconds = ok["latency_us"] / 1000.0, _seconds(ok, origin)
    for percent, style in ((50, "-"), (95, "--"), (99, ":")):
        series = per_group(ms, seconds, percent)
        axes.plot(series.index, series.values, style, label=f"p{percent:g}")
    axes.set_yscale("log")
    axes.set_xlabel("seconds since start")
    axes.set_ylabel("ms")
    axes.legend(fontsize=8)
    mark_warmup(axes, warmup)
    mark_outages(axes, outages or [])
    mark_events(axes, events or [])
    return figure


def active_users(history: pd.DataFrame, origin: float) -> Figure:
    """Simulated users over time (Locust's own per-second history)."""
    figure, axes = titled_figure("Active users", height=2.6)
    axes.plot(history["ts"] - origin, history["users"], color="tab:purple")
    axes.set_xlabel("seconds since start")
    axes.set_ylabel("users")
    return figure


def latency_distribution(samples: pd.DataFrame) -> Figure:
    """Cumulative distribution of latency per request name (log axis)."""
    figure, axes = titled_figure("Latency distribution (CDF) by request name", height=4.0)
    ok = _ok(samples)
    for name in _top_names(ok):
        values = np.sort(ok.loc[ok["name"] == name, "latency_us"].to_numpy() / 1000.0)
        if len(values):
            axes.plot(values, np.arange(1, len(values) + 1) / len(values), label=name)
    axes.set_xscale("log")
    axes.set_xlabel("latency, ms (log)")
    axes.set_ylabel("share of requests")
    axes.axhline(0.95, color="grey", linewidth=0.8, linestyle=":")
    axes.legend(fontsize=7, ncol=2, loc="lower right")
    return figure


def timeline_by_follow_bucket(samples: pd.DataFrame, threshold_ms: float) -> Figure:
    """Home-timeline latency by how many accounts the caller follows, with SC3's limit."""
    figure, axes = titled_figure("Home timeline latency by the caller's follow count (SC3)")
    ok = _ok(samples)
    timeline = ok[ok["name"] == "home_timeline"]
    buckets = [b for b in BUCKET_ORDER if (timeline["bucket"] == b).any()]
    data = [timeline.loc[timeline["bucket"] == b, "latency_us"].to_numpy() / 1000.0
            for b in buckets]
    if data:
        axes.boxplot(data, whis=(5, 95), showfliers=False)
        axes.set_xticks(range(1, len(buckets) + 1),
                        [f"follows {b}\n({len(d):,} requests)" for b, d in zip(buckets, data,
                                                                               strict=True)])
        for position, values in enumerate(data, 1):
            p95 = percentile(values, 95)
            if p95 is not None:
                axes.plot(position, p95, "v", color="tab:red")
    axes.axhline(threshold_ms, color="tab:red", linestyle="--", linewidth=1,
                 label=f"SC3 limit {threshold_ms:g} ms (p95, red marks)")
    axes.set_yscale("log")
    axes.set_ylabel("ms (box: p25-p75, whiskers p5-p95)")
    axes.legend(fontsize=8)
    return figure


def latency_vs_throughput(samples: pd.DataFrame, origin: float) -> Figure:
    """Each second as a point: requests completed against that second's p95."""
    figure, axes = titled_figure("Latency against throughput (one point per second)")
    ok = _ok(samples)
    seconds = _seconds(ok, origin)
    per_second = pd.DataFrame({
        "rps": seconds.value_counts().sort_index(),
        "p95": per_group(ok["latency_us"] / 1000.0, seconds, 95)})
    axes.scatter(per_second["rps"], per_second["p95"], s=10, alpha=0.7)
    axes.set_yscale("log")
    axes.set_xlabel("requests completed in the second")
    axes.set_ylabel("p95 in that second, ms")
    return figure


def connections_by_state(server: pd.DataFrame, origin: float) -> Figure:
    """PostgreSQL backends of the run database by state, and those waiting on a lock."""
    figure, axes = titled_figure("Database connections by state", height=2.8)
    x = server["ts"] - origin
    for column, name in (("conn_active", "active"), ("conn_idle", "idle"),
                         ("conn_idle_in_tx", "idle in transaction"),
                         ("conn_lock_waits", "waiting on a lock")):
        if column in server:
            axes.plot(x, server[column], label=name)
    axes.set_xlabel("seconds since start")
    axes.set_ylabel("connections")
    axes.legend(fontsize=8)
    return figure


def cpu_by_process(server: pd.DataFrame, origin: float, cpus: int | None) -> Figure:
    """CPU of PostgreSQL, the API and Locust: who was the bottleneck."""
    figure, axes = titled_figure("CPU by process group (100 % = one core)", height=2.8)
    x = server["ts"] - origin
    for group, label in (("postgres", "postgres"), ("api", "api"),
                         (REMOTE_API, "api (elsewhere, its /stats)"), ("locust", "locust")):
        column = f"{group}_cpu_percent"
        if column in server:
            axes.plot(x, server[column], label=label)
    if cpus:
        axes.axhline(cpus * 100, color="grey", linestyle=":", linewidth=1,
                     label=f"all {cpus} cores")
    axes.set_xlabel("seconds since start")
    axes.set_ylabel("% of a core")
    axes.legend(fontsize=8)
    return figure


def loop_lag(stalls: pd.DataFrame, origin: float) -> Figure:
    """How late each process's event loop woke, worst per second: every request in a late
    loop waits that long (API workers, remote ones from their /stats, and Locust processes)."""
    figure, axes = titled_figure("Event-loop lag by process (worst tick each second)",
                                 height=2.8)
    for process, rows in stalls.sort_values("ts").groupby("process"):
        axes.plot(rows["ts"] - origin, rows["loop_lag_max_ms"], label=str(process),
                  linewidth=1)
    axes.set_xlabel("seconds since start")
    axes.set_ylabel("ms late")
    axes.legend(fontsize=7, ncol=2)
    return figure


def pool_waits(server: pd.DataFrame, origin: float) -> Figure:
    """Requests waiting for a pooled connection, and the wait added per second."""
    figure, axes = titled_figure("API connection pool: waiting requests", height=2.8)
    x = server["ts"] - origin
    if "pool_requests_waiting" in server:
        axes.plot(x, server["pool_requests_waiting"], label="waiting now")
    if "pool_requests_wait_ms" in server:
        waited = server["pool_requests_wait_ms"].diff() / server["ts"].diff()
        twin = axes.twinx()
        twin.plot(x, waited / 1000.0, color="tab:orange", label="wait s per s")
        twin.set_ylabel("seconds waited per second")
        twin.legend(fontsize=8, loc="upper right")
    axes.set_xlabel("seconds since start")
    axes.set_ylabel("requests")
    axes.legend(fontsize=8, loc="upper left")
    return figure


def metric_lines(title: str, series: dict[str, list[tuple[str, float | None]]],
                 unit: str, log: bool = False,
                 flagged: list[tuple[str, str]] | None = None,
                 bands: dict[str, tuple[float, float]] | None = None) -> Figure:
    """One line per series over labelled points (runs); flagged points get a red ring; a
    series' band (its noise floor: min to max of identical runs) is shaded in its colour."""
    figure, axes = titled_figure(title)
    labels: list[str] = []
    for points in series.values():
        for label, _ in points:
            if label not in labels:
                labels.append(label)
    position = {label: i for i, label in enumerate(labels)}
    for name, points in series.items():
        xs = [position[label] for label, value in points if value is not None]
        ys = [value for _, value in points if value is not None]
        line, = axes.plot(xs, ys, marker="o", markersize=3, label=name)
        if bands and name in bands:
            axes.axhspan(*bands[name], color=line.get_color(), alpha=0.12, linewidth=0)
        for label, value in points:
            if flagged and (name, label) in flagged and value is not None:
                axes.plot(position[label], value, "o", markersize=10, fillstyle="none",
                          color="tab:red")
    axes.set_xticks(range(len(labels)), labels, rotation=30, ha="right", fontsize=7)
    if log:
        axes.set_yscale("log")
    axes.set_ylabel(unit)
    if series:
        axes.legend(fontsize=7, ncol=3)
    return figure


def data_uri(figure: Figure) -> str:
    """The figure as an inline PNG (reports are single files)."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


PATH_COLOURS = {"direct": "tab:red", "api": "tab:blue", "pgbouncer": "tab:green"}


def concurrency_sweep(title: str, levels: pd.DataFrame, column: str, unit: str,
                      log_y: bool = False) -> Figure:
    """One panel per mode (paced, saturating), one line per path, clients on a log axis.

    `levels` has a row per measured level: path, mode, clients and `column`.
    """
    modes = [m for m in ("paced", "saturating") if m in set(levels["mode"])] or ["paced"]
    figure = Figure(figsize=(WIDTH_IN, HEIGHT_IN), dpi=96, layout="constrained")
    figure.suptitle(title, fontsize=11, x=0.01, ha="left")
    panels = figure.subplots(1, len(modes), squeeze=False)[0]
    for axes, mode in zip(panels, modes, strict=True):
        axes.set_title(mode, fontsize=9, loc="left")
        axes.grid(True, alpha=0.3)
        for path, rows in levels[levels["mode"] == mode].groupby("path", sort=False):
            rows = rows.sort_values("clients")
            axes.plot(rows["clients"], rows[column], marker="o", markersize=4, label=str(path),
                      color=PATH_COLOURS.get(str(path)))
        axes.set_xscale("log")
        if log_y:
            axes.set_yscale("log")
        axes.set_xlabel("concurrent clients (log)")
        axes.set_ylabel(unit)
        axes.legend(fontsize=8)
    return figure
