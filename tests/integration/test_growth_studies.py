"""`lab scaling` and the seeded graph's statistics, for real on the tiny dataset."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

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
    assert fit is not None and 1 < fit["alpha"] < 6 and fit["x_min"] >= 1
    assert stats["following"]["ccdf"][0][1] == pytest.approx(1.0)
    assert 0.1 < stats["reply_share"] < 0.2 and 0.05 < stats["retweet_share"] < 0.15


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
    assert any(v["lag_max_ms"] > 0 for v in lags if v["fanout"] == "queue")
    sizes = {c["label"] for c in groups["dataset_size"]["curves"]}
    assert "the seed's query · warm" in sizes
    assert ("push · cold" in sizes) != bool(document["notes"])   # cold, or why not
    page = (folder / "index.html").read_text()
    assert "Fitted exponents" in page and page.count("data:image/png") >= 3
    assert folder.name in (tmp_path / "index.html").read_text()
    assert "exponent" in done.stdout
