"""Per-process sample chunks and their merge."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq

from lab.load.samples import SampleRecorder, follow_bucket, merge_samples


def record(recorder: SampleRecorder, start: float, latency_ms: float = 1.5) -> None:
    recorder.record("home_timeline", "GET", start, latency_ms, 200, 512, None, "reader", "0-99")


def test_chunks_from_several_processes_merge_in_time_order(tmp_path: Path) -> None:
    a = SampleRecorder(tmp_path, "w0_1", flush_rows=2)
    b = SampleRecorder(tmp_path, "w1_2", flush_rows=2)
    for i in range(5):
        record(a, 10.0 + 2 * i)
        record(b, 11.0 + 2 * i, latency_ms=0.0015)
    a.close()
    b.close()
    assert len(list(tmp_path.glob("w0_1-*.parquet"))) == 3  # 2 + 2 + 1 rows
    assert (tmp_path / "w0_1.done").read_text() == "5"
    result = merge_samples(tmp_path, tmp_path / "merged.parquet")
    assert (result.rows, result.workers, result.unfinished) == (10, ["w0_1", "w1_2"], [])
    table = pq.read_table(result.path)
    starts = table.column("start_ts").to_pylist()
    assert starts == sorted(starts) and starts[0] == 10.0
    assert set(table.column("latency_us").to_pylist()) == {1500, 2}


def test_a_process_that_never_finished_is_reported(tmp_path: Path) -> None:
    crashed = SampleRecorder(tmp_path, "w0_9", flush_rows=1)
    record(crashed, 1.0)  # flushed, but no close(): no .done marker
    result = merge_samples(tmp_path, tmp_path / "merged.parquet")
    assert result.rows == 1 and result.unfinished == ["w0_9"]


def test_follow_buckets() -> None:
    assert [follow_bucket(n) for n in (None, 0, 99, 100, 999, 1000, 5000)] == [
        None, "0-99", "0-99", "100-999", "100-999", "1000+", "1000+"]
