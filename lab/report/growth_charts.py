"""Charts of the growth studies: measures against load (capacity) and log-log cost curves
(scaling), each with what the text beside it names: the knee, the fits, the thresholds."""

from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from lab.report.charts import titled_figure


def plain_numbers(axes: Axes) -> None:
    """Log axes labelled 20, 50, 100 rather than 2×10^1."""
    for axis in (axes.xaxis, axes.yaxis):
        if axis.get_scale() == "log":
            axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
            axis.set_minor_formatter(FuncFormatter(
                lambda v, _: f"{v:g}" if f"{v:g}"[0] in "25" else ""))


def against_load(title: str, steps: list[dict[str, Any]], series: dict[str, str], unit: str,
                 knee: int | None = None, log_y: bool = False,
                 limits: dict[str, float] | None = None) -> Figure:
    """One line per `series` (label -> step key) over the steps' users; a step that failed
    the seed's thresholds is ringed red; the knee is a dotted line; `limits` are dashed."""
    figure, axes = titled_figure(title)
    ordered = sorted(steps, key=lambda s: s["users"])
    users = [s["users"] for s in ordered]
    for label, key in series.items():
        values = [s.get(key) for s in ordered]
        points = [(u, v) for u, v in zip(users, values, strict=True) if v is not None]
        if not points:
            continue
        axes.plot(*zip(*points, strict=True), marker="o", markersize=4, label=label)
        for step in ordered:
            if not step["seed_pass"] and step.get(key) is not None:
                axes.plot(step["users"], step[key], "o", markersize=10, fillstyle="none",
                          color="tab:red")
    for label, value in (limits or {}).items():
        axes.axhline(value, color="grey", linestyle="--", linewidth=1)
        axes.text(0.99, value, f"{label} ", transform=axes.get_yaxis_transform(), fontsize=8,
                  color="grey", va="bottom", ha="right")
    if knee is not None:
        axes.axvline(knee, color="tab:purple", linestyle=":", linewidth=1.2)
        axes.text(knee, 0.97, " knee", transform=axes.get_xaxis_transform(), fontsize=8,
                  color="tab:purple", va="top")
    if log_y:
        axes.set_yscale("log")
        plain_numbers(axes)
    axes.set_xlabel("simulated users (red ring: a seed threshold failed)")
    axes.set_ylabel(unit)
    axes.legend(fontsize=8)
    return figure


def cost_curve(title: str, curves: list[dict[str, Any]], xlabel: str,
               threshold_ms: float | None = None) -> Figure:
    """Log-log: each curve's points and its fitted line, the exponent in the legend; the
    seed's threshold dashed."""
    figure, axes = titled_figure(title, height=3.8)
    for curve in curves:
        points = [(p["x"], p["ms"]) for p in curve["points"] if p["ms"] and p["x"]]
        if not points:
            continue
        xs, ys = zip(*points, strict=True)
        fit = curve.get("fit")
        label = curve["label"] + (f"  (exponent {fit['exponent']:.2f})" if fit else "")
        line, = axes.plot(xs, ys, marker="o", markersize=4, linestyle="none", label=label)
        if fit:
            span = np.geomspace(min(xs), max(xs), 20)
            axes.plot(span, fit["prefactor"] * span ** fit["exponent"], color=line.get_color(),
                      linewidth=1, alpha=0.8)
    if threshold_ms is not None:
        axes.axhline(threshold_ms, color="grey", linestyle="--", linewidth=1)
        axes.text(0.99, threshold_ms, f"threshold {threshold_ms:g} ms ",
                  transform=axes.get_yaxis_transform(), fontsize=8, color="grey", va="bottom",
                  ha="right")
    axes.set_xscale("log")
    axes.set_yscale("log")
    plain_numbers(axes)
    axes.set_xlabel(xlabel)
    axes.set_ylabel("ms (log)")
    axes.legend(fontsize=7, loc="upper left")
    return figure


def ccdf(title: str, series: dict[str, list[tuple[int, float]]],
         reference: tuple[float, str] | None = None) -> Figure:
    """Log-log complementary CDFs (share of accounts with at least x); `reference` draws a
    power law of that exponent (density x^-a, so CCDF x^-(a-1)) through the first curve."""
    figure, axes = titled_figure(title, height=3.8)
    first: list[tuple[int, float]] | None = None
    for label, points in series.items():
        points = [(x, y) for x, y in points if x > 0 and y > 0]
        if not points:
            continue
        first = first or points
        axes.plot(*zip(*points, strict=True), marker=".", markersize=3, linewidth=1, label=label)
    if reference and first:
        exponent, label = reference
        x0, y0 = first[len(first) // 4]
        span = np.geomspace(x0, max(x for x, _ in first), 20)
        axes.plot(span, y0 * (span / x0) ** (1 - exponent), color="grey", linestyle="--",
                  linewidth=1, label=label)
    axes.set_xscale("log")
    axes.set_yscale("log")
    axes.set_xlabel("edges per account (log)")
    axes.set_ylabel("share of accounts with at least x (log)")
    axes.legend(fontsize=7)
    return figure
