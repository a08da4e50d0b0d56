"""Every request of a run, recorded exactly: written in chunks by each Locust process, merged after.

Locust's own statistics round response times into buckets; the lab keeps
each request (start, latency in microseconds, status, bytes, failure, who
sent it) so percentiles are exact and requests can be split by the caller's
follow count. Each process writes its own chunk files (a crash loses at
most one unflushed chunk, never the file) and a `.done` marker with its
row count when it stops cleanly; the merge names a process that left chunks
but no marker (its count is kept for a reader, not compared).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from lab.errors import LabError
from lab.verdicts import POWER_BUCKET, POWER_FOLLOWS

SCHEMA = pa.schema([
    ("name", pa.string()),
    ("method", pa.string()),
    ("start_ts", pa.float64()),      # seconds since the epoch, when the request was sent
    ("latency_us", pa.int64()),
    ("status", pa.int32()),          # 0 when no HTTP response arrived
    ("bytes", pa.int64()),
    ("failure", pa.string()),        # null for a success
    ("persona", pa.string()),
    ("bucket", pa.string()),         # the caller's follow count: 0-99, 100-999, 1000+
    ("worker", pa.string()),
    ("created_id", pa.int64()),      # the id a 201 announced (the ledger of acknowledged writes)
    ("deleted_id", pa.int64()),      # the tweet a 204 deleted
    # The API's own account of the request (its Server-Timing header), in µs; null without
    # one: the whole request inside the app, its pool wait, its database round trips.
    ("server_app_us", pa.int64()),
    ("server_pool_us", pa.int64()),
    ("server_db_us", pa.int64()),
    # A paced persona's request: how far behind its schedule it started (lab.swarm.pacing),
    # and how much of that its user spent waiting for its previous answers (the target's
    # share; the rest is the generator's own lateness).
    ("schedule_lag_ms", pa.float64()),
    ("schedule_wait_ms", pa.float64()),
])
TIMING_PARTS = ("app", "pool", "db")


def server_timing(header: str | None) -> tuple[int | None, int | None, int | None]:
    """(app, pool, db) in µs from a `Server-Timing: pool;dur=0.1, db;dur=2, app;dur=3` header."""
    durations: dict[str, int] = {}
    for metric in (header or "").split(","):
        name, _, params = metric.strip().partition(";")
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key == "dur":
                try:
                    durations[name] = round(float(value) * 1000)
                except ValueError:
                    continue
    app, pool, db = (durations.get(part) for part in TIMING_PARTS)
    return app, pool, db
FLUSH_ROWS = 20_000


def follow_bucket(following: int | None) -> str | None:
    """Group callers by how many accounts they follow (SC3 is about POWER_BUCKET)."""
    if following is None:
        return None
    if following >= POWER_FOLLOWS:
        return POWER_BUCKET
    return "100-999" if following >= 100 else "0-99"


@dataclass(frozen=True)
class Batch:
    """Rows taken from a recorder's buffer, and the number of the chunk they become."""

    number: int
    rows: dict[str, list[object]]

    @property
    def count(self) -> int:
        return len(self.rows["name"])


@dataclass
class SampleRecorder:
    """Collect one process's requests and write them as numbered Parquet chunks."""

    folder: Path
    worker: str
    flush_rows: int = FLUSH_ROWS
    rows: dict[str, list[object]] = field(default_factory=lambda: {n: [] for n in SCHEMA.names})
    chunks: int = 0
    written: int = 0

    def record(self, name: str, method: str, start_ts: float, latency_ms: float, status: int,
               nbytes: int, failure: str | None, persona: str | None,
               bucket: str | None, created_id: int | None = None,
               deleted_id: int | None = None,
               timing: tuple[int | None, int | None, int | None] = (None, None, None),
               schedule: tuple[float | None, float | None] = (None, None)) -> None:
        rows = self.rows
        rows["name"].append(name)
        rows["method"].append(method)
        rows["start_ts"].append(start_ts)
        rows["latency_us"].append(round(latency_ms * 1000))
        rows["status"].append(status)
        rows["bytes"].append(nbytes)
        rows["failure"].append(failure)
        rows["persona"].append(persona)
        rows["bucket"].append(bucket)
        rows["worker"].append(self.worker)
        rows["created_id"].append(created_id)
        rows["deleted_id"].append(deleted_id)
        for part, value in zip(TIMING_PARTS, timing, strict=True):
            rows[f"server_{part}_us"].append(value)
        rows["schedule_lag_ms"].append(schedule[0])
        rows["schedule_wait_ms"].append(schedule[1])
        if len(rows["name"]) >= self.flush_rows:
            self.flush()

    def take(self) -> Batch:
        """Hand over what is buffered as the next chunk, numbered and counted here, and start
        a new buffer (cheap: no conversion). Numbering at the hand-over keeps two writes in
        flight (one off the loop, one from a full buffer) from sharing a chunk's name."""
        batch = Batch(self.chunks, self.rows)
        self.rows = {n: [] for n in SCHEMA.names}
        if batch.count:
            self.chunks += 1
            self.written += batch.count
        return batch

    def write(self, batch: Batch) -> None:
        """Write a taken batch as its chunk (atomically: temp file, then rename). The
        conversion and the file are the costly part: a caller may run this off its loop."""
        if not batch.count:
            return
        table = pa.table(batch.rows, schema=SCHEMA)
        self.folder.mkdir(parents=True, exist_ok=True)
        chunk = self.folder / f"{self.worker}-{batch.number:05d}.parquet"
        temporary = chunk.with_suffix(".tmp")
        pq.write_table(table, temporary)
        os.replace(temporary, chunk)

    def flush(self) -> None:
        """Write what is buffered as the next chunk, here and now."""
        self.write(self.take())

    def close(self) -> None:
        """Flush and leave the marker saying this process finished with `written` rows."""
        self.flush()
        self.folder.mkdir(parents=True, exist_ok=True)
        (self.folder / f"{self.worker}.done").write_text(str(self.written))


@dataclass(frozen=True)
class MergeResult:
    path: Path
    rows: int
    workers: list[str]
    unfinished: list[str]   # processes that wrote chunks but no .done marker


def test_folders(root: Path) -> list[Path]:
    """The samples folders under `root`, one per test started, oldest first (names sort by
    start time)."""
    return sorted(p for p in root.glob("*") if p.is_dir())


def only_test(root: Path, log: Path) -> Path:
    """The samples folder of a headless run's one test."""
    tests = test_folders(root)
    if len(tests) != 1:
        raise LabError(f"expected the samples of one test in {root}, found {len(tests)}; "
                       f"see {log}")
    return tests[0]


def merge_samples(folder: Path, out: Path) -> MergeResult:
    """Combine every process's chunks into one file sorted by start time."""
    chunks = sorted(folder.glob("*.parquet"))
    tables = [pq.read_table(chunk, schema=SCHEMA) for chunk in chunks]
    table = pa.concat_tables(tables) if tables else SCHEMA.empty_table()
    table = table.sort_by("start_ts")
    pq.write_table(table, out, compression="zstd")
    workers = sorted({chunk.name.rsplit("-", 1)[0] for chunk in chunks}
                     | {marker.stem for marker in folder.glob("*.done")})
    unfinished = [w for w in workers if not (folder / f"{w}.done").exists()]
    return MergeResult(out, table.num_rows, workers, unfinished)
