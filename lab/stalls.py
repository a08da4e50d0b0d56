"""Process stalls as a per-second series: how late a process's event loop woke, and how long
its garbage collector paused it.

A process (an API worker, a Locust process) runs a ticker that asks to wake
every TICK_S and records how late it woke: when the loop is busy or the
process is descheduled, every coroutine or greenlet in it waits that long
too. Garbage-collection pauses come from `gc.callbacks`. Each second is one
JSON line in a file of the run folder, read back by the run's collection.
"""

from __future__ import annotations

import gc
import json
import time
from collections import deque
from pathlib import Path
from typing import Any, TextIO

TICK_S = 0.01
PREFIX = "stalls-"        # every process's file: <run folder>/samples/**/stalls-<process>.jsonl
GENERATOR_PROCESS = "locust-"   # how a Locust process names its series (locust-<worker>)


class StallSeries:
    """One process's loop lag and GC pauses, bucketed by wall-clock second: written to `path`
    when given, and the last `keep` seconds held in `recent` (what an API tells /stats)."""

    def __init__(self, path: Path | None, process: str, keep: int = 0) -> None:
        self.out: TextIO | None = None
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            self.out = path.open("a")
        self.recent: deque[dict[str, Any]] = deque(maxlen=keep)
        self.process = process
        self.second = int(time.time())
        self.lag_max_s = self.lag_total_s = 0.0
        self.gc_pause_s = 0.0
        self.gc_collections = 0
        self._gc_started: float | None = None
        gc.callbacks.append(self._on_gc)

    def _on_gc(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._gc_started = time.perf_counter()
        elif self._gc_started is not None:
            self.gc_pause_s += time.perf_counter() - self._gc_started
            self.gc_collections += 1
            self._gc_started = None

    def woke(self, late_s: float) -> None:
        """Record one tick that woke `late_s` after it asked to; write each finished second."""
        self.lag_max_s = max(self.lag_max_s, late_s)
        self.lag_total_s += late_s
        now = int(time.time())
        if now != self.second:
            row = {"ts": self.second, "process": self.process,
                   "loop_lag_max_ms": round(self.lag_max_s * 1000, 3),
                   "loop_lag_total_ms": round(self.lag_total_s * 1000, 3),
                   "gc_pause_ms": round(self.gc_pause_s * 1000, 3),
                   "gc_collections": self.gc_collections}
            self.recent.append(row)
            if self.out is not None:
                self.out.write(json.dumps(row) + "\n")
                self.out.flush()
            self.second, self.lag_max_s, self.lag_total_s = now, 0.0, 0.0
            self.gc_pause_s, self.gc_collections = 0.0, 0

    def close(self) -> None:
        if self._on_gc in gc.callbacks:
            gc.callbacks.remove(self._on_gc)
        if self.out is not None:
            self.out.close()


def read_stalls(folder: Path, start_ts: float, end_ts: float) -> list[dict[str, Any]]:
    """Every process's seconds under `folder` between two times (broken lines are skipped:
    a process killed mid-write leaves half a line)."""
    rows = []
    for path in sorted(folder.rglob(f"{PREFIX}*.jsonl")):
        for line in path.read_text().splitlines():
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                continue
            if start_ts - 1 <= row["ts"] <= end_ts:
                rows.append(row)
    return rows
