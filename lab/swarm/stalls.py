"""This Locust process's loop lag and GC pauses, second by second, beside its samples.

A greenlet asks to wake every TICK_S and records how late it woke: when the
process is busy (its greenlets are CPU-bound Python) every simulated user in
it waits that long, and the latencies it records include the wait. That is
the generator's share of a tail, which the explanation must tell apart from
the target's.
"""

from __future__ import annotations

import time
from pathlib import Path

import gevent

from lab.stalls import GENERATOR_PROCESS, PREFIX, TICK_S, StallSeries


def watch(folder: Path, worker: str) -> gevent.Greenlet:
    """Start the ticker greenlet; kill it to stop (its file is closed then)."""
    def tick() -> None:
        name = f"{GENERATOR_PROCESS}{worker}"
        series = StallSeries(folder / f"{PREFIX}{name}.jsonl", name)
        try:
            while True:
                asked = time.perf_counter()
                gevent.sleep(TICK_S)
                series.woke(max(0.0, time.perf_counter() - asked - TICK_S))
        finally:
            series.close()

    return gevent.spawn(tick)
