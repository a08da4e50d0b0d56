"""Seed once, reuse many times: template databases keyed by what determines their rows.

A template is named after (scale, seed, and a hash of the migrations, the
scale preset and the seeder's own source); the same key means the same rows,
so an existing template is reused and each run gets a file copy of it in
seconds instead of a new seed in minutes. Hashing the source rather than a
hand-bumped version means an edited generator can never be served stale rows.
A template is built under a temporary name and renamed only when complete, so
an interrupted seed never leaves a half-filled template to be reused; the
templates it supersedes are dropped before it starts, to free their disk.
"""

from __future__ import annotations

import hashlib
import resource
import shutil
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import psutil
import psycopg
from psycopg.conninfo import conninfo_to_dict

from lab.migrate import migrate, schema_checksum
from lab.pg.databases import (
    create_database,
    database_exists,
    drop_database,
    list_lab_databases,
    rename_database,
)
from lab.pg.server import PgServer
from lab.progress import Reporter
from lab.seed.generate import PG_EPOCH_UNIX_S, US_PER_S, Dataset, generate
from lab.seed.load import LoadResult, load_dataset, write_facts
from lab.seed.scales import Scale, check_disk, check_memory

SPECIAL_ACCOUNTS_LISTED = 50
LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1")


SEEDER_DIR = Path(__file__).resolve().parent


def generator_checksum() -> str:
    """Return a hash of the seeder's source files: any change to them changes the rows' key."""
    digest = hashlib.sha256()
    for path in sorted(SEEDER_DIR.glob("*.py")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def dataset_key(scale: Scale) -> str:
    """Return the short hash of what, besides the seed, shapes the rows."""
    text = f"{schema_checksum()}:{generator_checksum()}:{scale}"
    return hashlib.sha256(text.encode()).hexdigest()[:10]


def template_prefix(scale: Scale, seed: int) -> str:
    """Return the start shared by every template ever built for (scale, seed)."""
    return f"timeline_lab_tpl_{scale.name}_{seed}_"


def template_name(scale: Scale, seed: int) -> str:
    """Return the template database name for (scale, seed) under this schema and seeder."""
    return template_prefix(scale, seed) + dataset_key(scale)


@dataclass
class SeedResult:
    """What `lab seed` did: built or reused the template, and the copy made from it."""

    template: str
    built: bool
    generate_seconds: float = 0.0
    load: LoadResult | None = None
    peak_memory_bytes: int = 0

    @property
    def seconds(self) -> float:
        return self.generate_seconds + (self.load.seconds if self.load else 0.0)

    @property
    def rows_per_s(self) -> float:
        return self.load.total_rows / self.seconds if self.load and self.seconds else 0.0


def ensure_template(server: PgServer, scale: Scale, seed: int, reporter: Reporter,
                    rebuild: bool = False) -> SeedResult:
    """Return the seeded template for (scale, seed), building it only when missing.

    Concurrent seeds of the same (scale, seed) take turns on an advisory lock;
    the second finds the first one's template and reuses it.
    """
    name = template_name(scale, seed)
    with server.connect(autocommit=True) as lock:
        lock.execute("SELECT pg_advisory_lock(hashtext(%s))", (template_prefix(scale, seed),))
        if database_exists(server, name) and not rebuild:
            return SeedResult(template=name, built=False)
        return _build_template(server, scale, seed, name, reporter)


def _build_template(server: PgServer, scale: Scale, seed: int, name: str,
                    reporter: Reporter) -> SeedResult:
    check_memory(scale, psutil.virtual_memory().available)
    # Templates of other keys hold rows this seeder no longer makes: nothing will use them
    # again, and at a million users each holds a large share of the disk the new one needs.
    for stale in list_lab_databases(server):
        if stale.startswith(template_prefix(scale, seed)):
            drop_database(server, stale)
    free = data_directory_free_bytes(server)
    if free is not None:
        check_disk(scale, free)
    building = f"{name}_new"
    create_database(server, building)
    try:
        started = time.perf_counter()
        reporter.phase("generate")
        data = generate(scale, seed)
        generate_seconds = time.perf_counter() - started
        reporter.done("generate", generate_seconds)
        with server.connect(building) as conn:
            migrate(conn)
            result = load_dataset(conn, data, reporter)
            peak = peak_memory_bytes()
            write_facts(conn, dataset_facts(data, result, generate_seconds, peak))
    except BaseException:
        drop_database(server, building)
        raise
    rename_database(server, building, name)
    return SeedResult(template=name, built=True, generate_seconds=generate_seconds, load=result,
                      peak_memory_bytes=peak)


def peak_memory_bytes() -> int:
    """The largest resident memory this process has had.

    Linux's VmHWM, not getrusage's maxrss: that one carries the parent's resident size
    at fork through exec, so a seeder started by a big process reported the parent's."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux


def data_directory_free_bytes(server: PgServer) -> int | None:
    """Free bytes on the filesystem of a local server's data directory; None when the
    server is on another host or does not say where its data lives (not a superuser)."""
    host = str(conninfo_to_dict(server.url()).get("host") or "localhost")
    if not (host.startswith("/") or host in LOCAL_HOSTS):
        return None
    try:
        with server.connect() as conn:
            row = conn.execute("SHOW data_directory").fetchone()
    except psycopg.Error:
        return None
    path = Path(str(row[0])) if row else None
    try:
        return shutil.disk_usage(path).free if path else None
    except OSError:
        return None


def fresh_copy(server: PgServer, template: str, name: str) -> float:
    """Replace database `name` with a file copy of `template`; return the seconds taken."""
    drop_database(server, name)
    return create_database(server, name, template=template)


def _timestamp(us_since_2000: int) -> str:
    moment = datetime.fromtimestamp(PG_EPOCH_UNIX_S, UTC) + timedelta(
        microseconds=int(us_since_2000))
    return moment.isoformat()


def dataset_facts(data: Dataset, load: LoadResult, generate_seconds: float,
                  peak_bytes: int) -> dict[str, Any]:
    """Return the facts later scenarios and reports read from dataset_facts."""
    users = data.users
    following = users.following_count
    followers = users.followers_count
    readers = data.power_readers[np.argsort(-following[data.power_readers], kind="stable")]
    popular = np.argsort(-followers, kind="stable")
    popular = popular[followers[popular] >= data.scale.popular_followers_min]
    protected_with_requests = np.unique(data.requests.followee)
    seconds = generate_seconds + load.seconds
    return {
        "scale": data.scale.name,
        "seed": data.seed,
        "generator_checksum": generator_checksum(),
        "schema_checksum": schema_checksum(),
        "timeline_cap": data.scale.timeline_cap,
        "caches": {"open_share": data.scale.open_caches,
                   "closed": int((~data.open_caches).sum())},
        "time_range": {"start": _timestamp(data.start_us),
                       "end": _timestamp(data.start_us + data.scale.days * 86_400 * US_PER_S)},
        "rows": load.rows,
        "power_readers": [{"id": int(u) + 1, "following": int(following[u])}
                          for u in readers[:SPECIAL_ACCOUNTS_LISTED]],
        "popular_accounts": [{"id": int(u) + 1, "followers": int(followers[u])}
                             for u in popular[:SPECIAL_ACCOUNTS_LISTED]],
        "popular_accounts_total": int(len(popular)),
        "protected_with_requests": [int(u) + 1 for u in protected_with_requests[:20]],
        "seeding": {"generate_s": round(generate_seconds, 2),
                    "copy_s": round(load.copy_seconds, 2),
                    "build_s": round(load.build_seconds, 2),
                    "analyze_s": round(load.analyze_seconds, 2),
                    "rows_per_s": round(load.total_rows / seconds) if seconds else None,
                    "peak_memory_mb": round(peak_bytes / 2**20)},
    }


def read_facts(server: PgServer, database: str) -> dict[str, Any]:
    """Return the dataset_facts of a seeded database as a dict."""
    with server.connect(database) as conn:
        return {key: value for key, value in conn.execute("SELECT key, value FROM dataset_facts")}
