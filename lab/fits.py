"""Power-law fits: the exponent of a cost curve, and of a degree distribution's body.

A cost curve y = a·x^b is fitted by least squares on log y against log x: b is
how the cost grows (1: linear in follows; 0: flat). A degree distribution's
exponent is the maximum-likelihood estimate of Clauset, Shalizi and Newman
("Power-law distributions in empirical data", SIAM Review 2009, eq. 3.7, the
discrete approximation): alpha = 1 + n / sum(ln(x / (x_min - 1/2))) over the
n values at or above x_min, the exponent of the density p(x) ~ x^-alpha that
Kwak et al. quote for Twitter's followings (2.276).
"""

from __future__ import annotations

import math
from collections.abc import Sequence


def loglog_fit(xs: Sequence[float], ys: Sequence[float]) -> dict[str, float] | None:
    """{exponent, prefactor, r2} of y = prefactor · x^exponent, or None with fewer than two
    distinct positive x."""
    points = [(math.log(x), math.log(y)) for x, y in zip(xs, ys, strict=True)
              if x and y and x > 0 and y > 0]
    if len({x for x, _ in points}) < 2:
        return None
    n = len(points)
    mean_x = sum(x for x, _ in points) / n
    mean_y = sum(y for _, y in points) / n
    sxx = sum((x - mean_x) ** 2 for x, _ in points)
    sxy = sum((x - mean_x) * (y - mean_y) for x, y in points)
    slope = sxy / sxx
    intercept = mean_y - slope * mean_x
    total = sum((y - mean_y) ** 2 for _, y in points)
    residual = sum((y - intercept - slope * x) ** 2 for x, y in points)
    return {"exponent": round(slope, 3), "prefactor": math.exp(intercept),
            "r2": round(1 - residual / total, 3) if total else 1.0}


def power_law_alpha(values: Sequence[int], x_min: int) -> dict[str, float] | None:
    """The discrete MLE of the density exponent over values >= x_min, with its standard
    error (alpha - 1) / sqrt(n); None with fewer than 10 such values."""
    body = [v for v in values if v >= x_min]
    if len(body) < 10 or x_min < 1:
        return None
    total = sum(math.log(v / (x_min - 0.5)) for v in body)
    alpha = 1 + len(body) / total
    return {"alpha": round(alpha, 3), "x_min": x_min, "n": len(body),
            "stderr": round((alpha - 1) / math.sqrt(len(body)), 3)}


def ccdf_points(values: Sequence[int], most: int = 60) -> list[tuple[int, float]]:
    """(x, share of values >= x) at up to `most` log-spaced x: what a log-log CCDF draws."""
    ordered = sorted(v for v in values if v > 0)
    if not ordered:
        return []
    n, top = len(ordered), ordered[-1]
    xs = sorted({max(1, round(math.exp(i * math.log(top) / (most - 1)))) for i in range(most)})
    points, index = [], 0
    for x in xs:
        while index < n and ordered[index] < x:
            index += 1
        points.append((x, (n - index) / n))
    return points


def fitted_body(values: Sequence[int], candidates: int = 40) -> dict[str, float] | None:
    """The power law's body as Clauset et al. choose it: among x_min candidates (log-spaced
    between 1 and the 90th percentile), the one whose fitted CCDF is nearest the data's
    (Kolmogorov-Smirnov distance); the fit with its x_min and that distance."""
    ordered = sorted(v for v in values if v > 0)
    if len(ordered) < 20:
        return None
    top = ordered[int(0.9 * (len(ordered) - 1))]
    grid = sorted({max(1, round(math.exp(i * math.log(max(top, 2)) / (candidates - 1))))
                   for i in range(candidates)})
    best: dict[str, float] | None = None
    for x_min in grid:
        fit = power_law_alpha(ordered, x_min)
        if fit is None:
            continue
        body = [v for v in ordered if v >= x_min]
        n = len(body)
        distance = max(abs((n - i) / n - (v / x_min) ** (1 - fit["alpha"]))
                       for i, v in enumerate(body))
        if best is None or distance < best["ks"]:
            best = {**fit, "ks": round(distance, 4)}
    return best
