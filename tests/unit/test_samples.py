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


def test_a_batch_written_late_keeps_its_own_chunk(tmp_path: Path) -> None:
    # The flusher takes a batch and writes it off the loop; meanwhile a full buffer is
    # written from the loop. Numbered when taken, neither overwrites the other.
    recorder = SampleRecorder(tmp_path, "local_1", flush_rows=3)
    record(recorder, 1.0)
    late = recorder.take()
    for i in range(3):
        record(recorder, 2.0 + i)       # the third fills the buffer: written at once
    recorder.write(late)
    recorder.close()
    assert sorted(p.name for p in tmp_path.glob("*.parquet")) == [
        "local_1-00000.parquet", "local_1-00001.parquet"]
    # The number was the late batch's from the moment it was taken.
    first = pq.read_table(tmp_path / "local_1-00000.parquet").column("start_ts").to_pylist()
    assert first == [1.0]
    assert (tmp_path / "local_1.done").read_text() == "4"
    result = merge_samples(tmp_path, tmp_path / "merged.parquet")
    assert result.rows == 4 and result.unfinished == []


def test_a_process_that_never_finished_is_reported(tmp_path: Path) -> None:
    crashed = SampleRecorder(tmp_path, "w0_9", flush_rows=1)
    record(crashed, 1.0)  # flushed, but no close(): no .done marker
    result = merge_samples(tmp_path, tmp_path / "merged.parquet")
    assert result.rows == 1 and result.unfinished == ["w0_9"]


def test_follow_buckets() -> None:
    assert [follow_bucket(n) for n in (None, 0, 99, 100, 999, 1000, 5000)] == [
        None, "0-99", "0-99", "100-999", "100-999", "1000+", "1000+"]
