"""`lab scaling`: cost curves on fresh copies of the seeded dataset.

1. Home timeline against the reader's follow count, per strategy and for the seed's
   own fan-out-on-read query: database time (EXPLAIN ANALYZE) and HTTP time.
2. Posting against the author's follower count, push and hybrid, inline and queued
   fan-out: database time, HTTP time, and the visibility lag a follower sees.
3. The seed's query and push against dataset size, the buffer cache cold and warm.

Every curve gets a log-log fit (lab.fits); the document is scaling.json.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg

from lab.api_process import api_process
from lab.caches import prepare_caches
from lab.config import Settings
from lab.fits import loglog_fit
from lab.growth import SCALING_FILE, write_document
from lab.load.database import RunDatabase, run_database
from lab.load.probes import (
    FOLLOW_TARGETS,
    Probe,
    follow_targets,
    make_reader,
    pick_authors,
    watch,
)
from lab.plans.capture import set_session
from lab.processes import free_port
from lab.progress import Reporter, Say
from lab.queries import first_page, query
from lab.runconfig import DEFAULT_SEED
from lab.runfolder import API_LOG, utc_stamp
from lab.scaling.database_time import database_ms, evict_buffers
from lab.scaling.footprint import footprint, footprint_fits, footprint_text
from lab.scaling.http_time import post_and_watch, timeline_ms, warm_up
from lab.verdicts import DEFAULT_THRESHOLDS

PAGE = 50
SIZE_READER_FOLLOWS = 1000
# Pull has no fan-out (its lag is 0 by construction: it is checked, not assumed).
FANOUTS = (("pull", "inline"), ("push", "inline"), ("push", "queue"), ("hybrid", "inline"),
           ("hybrid", "queue"))
PUBLISHED_FANOUT_TARGET_S = 5.0   # Twitter's fan-out target (Krikorian, QCon 2012/2013)


@dataclass(frozen=True)
class ScalingConfig:
    scale: str = "small"
    sizes: tuple[str, ...] = ("tiny", "small")
    strategies: tuple[str, ...] = ("pull", "push", "hybrid")
    follows: tuple[int, ...] = FOLLOW_TARGETS
    http: bool = True


def curve(label: str, points: list[dict[str, Any]], key: str = "ms") -> dict[str, Any]:
    """A curve of (x, ms) points and its log-log fit."""
    drawn = [{**p, "ms": p[key]} for p in points if p.get(key) is not None]
    return {"label": label, "points": drawn,
            "fit": loglog_fit([p["x"] for p in drawn], [p["ms"] for p in drawn])}


@contextmanager
def serving(conn: psycopg.Connection, database: RunDatabase, strategy: str, fanout: str,
            settings: Settings, folder: Path, say: Say) -> Iterator[httpx.Client]:
    """An API serving `strategy`; caches another strategy left stale are rebuilt here
    first, with progress, rather than inside the server's start (which /health waits on)."""
    prepare_caches(conn, strategy, settings.timeline_cap, say)
    port = free_port()
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "LAB_FANOUT": fanout}
    with api_process(database.server, database.name, strategy, port, env, 1,
                     folder / API_LOG), \
            httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
        yield client


def timeline_curves(conn: psycopg.Connection, database: RunDatabase, config: ScalingConfig,
                    settings: Settings, folder: Path, say: Say) -> dict[str, Any]:
    targets = [n for n in follow_targets(conn, max(config.follows)) if n in config.follows]
    readers: dict[str, list[Probe]] = {}
    for kind in sorted({"hybrid" if s == "hybrid" else "push" for s in config.strategies}):
        say(f"  readers following {', '.join(map(str, targets))} accounts ({kind} caches)")
        set_session(conn, {**settings.timeline_session(kind), "lab.fanout": "inline"})
        readers[kind] = [make_reader(conn, n, f"{kind}-{n}") for n in targets]
    curves = []
    for strategy in config.strategies:
        kind = "hybrid" if strategy == "hybrid" else "push"
        session = settings.timeline_session(strategy)
        points = [{"x": r.size, **database_ms(conn, query(f"home_timeline_{strategy}"),
                                              _page(r), session)} for r in readers[kind]]
        curves.append(curve(f"{strategy} · database", points))
        if config.http:
            with serving(conn, database, strategy, "inline", settings, folder, say) as client:
                warm_up(client, readers[kind][0])
                curves.append(curve(f"{strategy} · HTTP", [
                    {"x": r.size, "ms": timeline_ms(client, r)} for r in readers[kind]]))
        say(f"  home timeline, {strategy}: {_fit_text(curves[-1])}")
    seed_points = [{"x": r.size, **database_ms(conn, query("home_timeline_seed"),
                                               {"user_id": r.user_id, "limit": PAGE}, {})}
                   for r in readers.get("push", [])]
    if seed_points:
        curves.append(curve("the seed's query · database", seed_points))
    return {"id": "timeline_follows", "title": "Home timeline against the reader's follow count",
            "x_label": "accounts the reader follows (log)", "threshold_ms":
            DEFAULT_THRESHOLDS["SC3"], "curves": curves}


def posting_curves(conn: psycopg.Connection, database: RunDatabase, config: ScalingConfig,
                   settings: Settings, folder: Path, say: Say
                   ) -> tuple[dict[str, Any], dict[str, Any], list[dict[str, Any]]]:
    authors = pick_authors(conn)
    say(f"  authors with {', '.join(f'{a.size:,}' for a in authors)} followers")
    set_session(conn, {**settings.timeline_session("push"), "lab.fanout": "inline"})
    watchers = {a.user_id: watch(conn, a, f"watch-{a.user_id}") for a in authors}
    curves, lag_curves, visibility = [], [], []
    for strategy, fanout in FANOUTS:
        session = {**settings.timeline_session(strategy), "lab.fanout": fanout}
        points = [{"x": a.size, **database_ms(conn, query("post_tweet"), {
            "user_id": a.user_id, "body": "scaling: a measured post", "reply_to_tweet_id": None,
            "original_tweet_id": None}, session)} for a in authors]
        curves.append(curve(f"{strategy} {fanout} · database", points))
        if not config.http:
            continue
        with serving(conn, database, strategy, fanout, settings, folder, say) as client:
            warm_up(client, watchers[authors[0].user_id], authors[0])
            seen = [{"x": a.size, "strategy": strategy, "fanout": fanout,
                     **post_and_watch(client, a, watchers[a.user_id], f"{strategy}-{fanout}")}
                    for a in authors]
        visibility += seen
        curves.append(curve(f"{strategy} {fanout} · HTTP", seen, key="post_http_ms"))
        lag_curves.append(curve(f"{strategy} {fanout} · lag p50", seen, key="lag_p50_ms"))
        say(f"  posting, {strategy} {fanout}: {_fit_text(curves[-2])}; lag p50 "
            f"{', '.join(_ms(v['lag_p50_ms']) for v in seen)} ms")
    posting = {"id": "posting_followers",
               "title": "Posting against the author's follower count",
               "x_label": "the author's followers (log)",
               "threshold_ms": DEFAULT_THRESHOLDS["SC5"], "curves": curves}
    lag = {"id": "visibility_lag", "title": "Visibility lag against the author's follower count "
           "(from the post's 201 to a follower's timeline showing it; 0 is not drawn on log axes)",
           "x_label": "the author's followers (log)",
           "threshold_ms": PUBLISHED_FANOUT_TARGET_S * 1000, "curves": lag_curves}
    return posting, lag, visibility


def size_curves(config: ScalingConfig, settings: Settings, reporter: Reporter,
                db: str | None, say: Say
                ) -> tuple[dict[str, Any], list[dict[str, Any]], list[str]]:
    points: dict[str, list[dict[str, Any]]] = {}
    footprints: list[dict[str, Any]] = []
    notes: list[str] = []
    for size in config.sizes:
        say(f"dataset size {size}: a fresh copy, its power reader, the buffer cache evicted")
        with run_database(db, size, DEFAULT_SEED, False, settings, reporter, say) as database, \
                database.server.connect(database.name, autocommit=True) as conn:
            # The same reader at every size: following nearest SIZE_READER_FOLLOWS (the
            # seed's case), so that only the data around it grows; one whose cache is open,
            # so that push reads a cache (a closed one would be opened by every run).
            row = conn.execute("SELECT id, following_count FROM users AS u "
                               "WHERE following_count >= %s AND NOT EXISTS ("
                               " SELECT 1 FROM closed_caches AS c WHERE c.user_id = u.id) "
                               "ORDER BY following_count - %s, id LIMIT 1",
                               (SIZE_READER_FOLLOWS, SIZE_READER_FOLLOWS)).fetchone()
            tweets = conn.execute("SELECT count(*) FROM tweets").fetchone()
            assert row is not None and tweets is not None
            footprints.append(footprint(conn, database.facts, {
                **settings.timeline_session("push"), "lab.fanout": "inline"}))
            say(f"  {size}: {footprint_text(footprints[-1])}")
            for label, name, params, session in (
                    ("the seed's query", "home_timeline_seed",
                     {"user_id": row[0], "limit": PAGE}, {}),
                    ("push", "home_timeline_push", _page(Probe(row[0], "", row[1])),
                     settings.timeline_session("push"))):
                problem = evict_buffers(conn)
                if problem and problem not in notes:
                    notes.append(problem)
                measured = database_ms(conn, query(name), params, session)
                for state, key in (("warm", "ms"), ("cold", "first_ms")):
                    if state == "cold" and problem:
                        continue
                    points.setdefault(f"{label} · {state}", []).append(
                        {"x": int(tweets[0]), "ms": measured[key], "scale": size,
                         "reader_follows": row[1],
                         "read_blocks": measured["first_read_blocks"]})
    return ({"id": "dataset_size", "title": "Home timeline against dataset size "
             "(a reader following nearest 1000 accounts at each)",
             "x_label": "tweets in the dataset (log)", "threshold_ms": DEFAULT_THRESHOLDS["SC3"],
             "curves": [curve(label, series) for label, series in points.items()]},
            footprints, notes)


def run_scaling(config: ScalingConfig, folder: Path, db: str | None, settings: Settings,
                reporter: Reporter, say: Say) -> dict[str, Any]:
    """Measure every curve, write scaling.json, return it."""
    started = utc_stamp()
    say(f"scale {config.scale}: probes on a fresh copy")
    with run_database(db, config.scale, DEFAULT_SEED, False, settings, reporter,
                      say) as database, \
            database.server.connect(database.name, autocommit=True) as conn:
        timeline = timeline_curves(conn, database, config, settings, folder, say)
        posting, lag, visibility = posting_curves(conn, database, config, settings, folder, say)
    sizes, footprints, notes = size_curves(config, settings, reporter, db, say)
    document = {"kind": "scaling", "started_at": started, "finished_at": utc_stamp(),
                "config": {"scale": config.scale, "scales": ",".join(config.sizes),
                           "strategies": list(config.strategies), "follows": list(config.follows),
                           "http": config.http, "page": PAGE},
                "groups": [timeline, posting, lag, sizes], "visibility": visibility,
                "footprint": {"sizes": footprints, "fits": footprint_fits(footprints)},
                "notes": notes}
    write_document(folder, SCALING_FILE, document)
    return document


def _page(reader: Probe) -> dict[str, Any]:
    return {**first_page(PAGE), "user_id": reader.user_id, "viewer_id": reader.user_id}


def _fit_text(entry: dict[str, Any]) -> str:
    fit = entry["fit"]
    return "no fit" if fit is None else f"exponent {fit['exponent']:.2f}"


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"

