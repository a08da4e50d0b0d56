"""`lab scaling` and the seeded graph's statistics, for real on the tiny dataset."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
import pytest

from lab.pg.server import PgServer
from lab.seed.graph_stats import graph_stats
from lab.seed.scales import PUBLISHED_RECIPROCITY


def lab(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "lab.cli", *args], capture_output=True,
                          text=True, timeout=500, env={**os.environ, "COLUMNS": "200"})


def test_the_graph_statistics_count_what_the_tables_hold(pg_server: PgServer,
                                                          seeded_db: str) -> None:
    with psycopg.connect(pg_server.url(seeded_db)) as conn:
        stats = graph_stats(conn)
        edges = conn.execute("SELECT count(*) FROM following").fetchone()
        mutual = conn.execute("SELECT count(*) FROM following a JOIN following b ON "
                              "a.follower_id = b.followee_id AND a.followee_id = b.follower_id"
                              ).fetchone()
    assert edges is not None and mutual is not None
    assert stats["edges"] == edges[0]
    assert stats["reciprocal_edges"] == pytest.approx(mutual[0] / edges[0], abs=1e-4)
    assert stats["reciprocal_pairs"] == pytest.approx(PUBLISHED_RECIPROCITY, abs=0.01)
    fit = stats["following"]["fit"]
    assert fit is not None and fit["x_min"] >= 1
    # The exponent against the exact discrete maximum likelihood (Hurwitz zeta normalised,
    # maximised numerically) of the follow counts SQL reads, at the fit's own x_min: the
    # lab uses Clauset et al.'s closed-form approximation of it.
    with psycopg.connect(pg_server.url(seeded_db)) as conn:
        counts = [int(r[0]) for r in conn.execute(
            "SELECT following_count FROM users WHERE following_count >= %s",
            (fit["x_min"],))]
    assert len(counts) == fit["n"]
    assert fit["alpha"] == pytest.approx(exact_alpha(counts, int(fit["x_min"])), rel=0.05)
    assert stats["following"]["ccdf"][0][1] == pytest.approx(1.0)
    assert 0.1 < stats["reply_share"] < 0.2 and 0.05 < stats["retweet_share"] < 0.15


def exact_alpha(values: list[int], x_min: int) -> float:
    """The discrete power law's maximum-likelihood exponent, by golden-section search on
    log L(a) = -n log zeta(a, x_min) - a sum(log x)."""
    logs = float(np.log(np.asarray(values, dtype=np.float64)).sum())
    ks = np.arange(x_min, 200_000, dtype=np.float64)

    def log_likelihood(alpha: float) -> float:
        zeta = float((ks ** -alpha).sum()) + ks[-1] ** (1 - alpha) / (alpha - 1)
        return -len(values) * math.log(zeta) - alpha * logs

    low, high = 1.05, 8.0
    ratio = (math.sqrt(5) - 1) / 2
    for _ in range(80):
        a, b = high - ratio * (high - low), low + ratio * (high - low)
        low, high = (low, b) if log_likelihood(a) > log_likelihood(b) else (a, high)
    return (low + high) / 2


def test_scaling_draws_every_curve_with_its_fit_and_the_visibility_lag(
        pg_server: PgServer, seeded_template: str, tmp_path: Path) -> None:
    done = lab("scaling", "--scale", "tiny", "--sizes", "tiny", "--follows", "10,100,1000",
               "--db", pg_server.url(), "--reports", str(tmp_path))
    assert done.returncode == 0, done.stdout + done.stderr
    [folder] = list(tmp_path.glob("*_scaling_tiny"))
    document = json.loads((folder / "scaling.json").read_text())
    groups = {g["id"]: g for g in document["groups"]}
    timeline = {c["label"]: c for c in groups["timeline_follows"]["curves"]}
    for strategy in ("pull", "push", "hybrid"):
        for kind in ("database", "HTTP"):
            entry = timeline[f"{strategy} · {kind}"]
            assert [p["x"] for p in entry["points"]] == [10, 100, 1000]
            assert entry["fit"] is not None and all(p["ms"] > 0 for p in entry["points"])
    assert timeline["the seed's query · database"]["fit"] is not None
    posting = {c["label"] for c in groups["posting_followers"]["curves"]}
    assert {"push inline · database", "hybrid queue · HTTP"} <= posting
    lags = document["visibility"]
    assert lags and all(v["unseen"] == 0 for v in lags)
    # Inline push delivers in the posting transaction: visible at the first read, always.
    # So does pull, which reads at read time.
    assert all(v["lag_max_ms"] == 0 for v in lags if v["fanout"] == "inline")
    assert {(v["strategy"], v["fanout"]) for v in lags} == {
        ("pull", "inline"), ("push", "inline"), ("push", "queue"), ("hybrid", "inline"),
        ("hybrid", "queue")}
    # Queued delivery may beat the first 2 ms read or not (a race with the worker): its
    # lag is measured, never assumed.
    assert all(v["lag_max_ms"] >= v["lag_p50_ms"] >= 0 for v in lags if v["fanout"] == "queue")
    sizes = {c["label"] for c in groups["dataset_size"]["curves"]}
    assert "the seed's query · warm" in sizes
    # Cold, or a note that says why not.
    assert "push · cold" in sizes or any("cold" in note for note in document["notes"]), (
        sizes, document["notes"])
    [size] = document["footprint"]["sizes"]
    with psycopg.connect(pg_server.url(seeded_template)) as conn:
        facts: dict[str, Any] = dict(
            conn.execute("SELECT key, value FROM dataset_facts").fetchall())
        # Counted from the rows, not from the counters the study reads.
        deliveries = conn.execute("SELECT (SELECT count(*) FROM tweets AS t JOIN followers AS f "
                                  "ON f.followee_id = t.user_id)::float8 / count(*) + 1 "
                                  "FROM tweets").fetchone()
    assert deliveries is not None
    assert size["loaded_rows"] == sum(facts["rows"].values())
    # The study's copy is prepared for a run first (its visibility pairs follow each other:
    # a few dozen edges more than the template holds).
    # tiny keeps every cache: the rows written are those of every follower.
    assert size["fanout_rows_per_post"]["open"] == pytest.approx(deliveries[0], rel=1e-3)
    assert size["fanout_rows_per_post"]["every"] == pytest.approx(deliveries[0], rel=1e-3)
    tables = sum(v for k, v in size["bytes"].items() if k != "database")
    assert 0 < tables < size["bytes"]["database"]
    wal = size["wal_per_post"]
    assert wal["posts"] == 20 and wal["first_mean"] > 0 and wal["again_mean"] > 0
    fits = {f["label"]: f for f in document["footprint"]["fits"]}
    assert "database bytes against loaded rows" in fits
    page = (folder / "index.html").read_text()
    assert "Fitted exponents" in page and page.count("data:image/png") >= 3
    assert "Footprint of each size" in page
    assert folder.name in (tmp_path / "index.html").read_text()
    assert "exponent" in done.stdout
