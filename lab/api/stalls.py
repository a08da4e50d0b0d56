"""This API worker's event-loop lag and GC pauses, second by second, for the run's explanation.

Started in the lifespan when `lab run` hands the worker a folder
(LAB_OBSERVE_DIR); a worker served on its own records nothing.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from lab.stalls import PREFIX, TICK_S, StallSeries


async def watch(folder: Path, stop: asyncio.Event) -> None:
    """Tick every TICK_S until `stop`, recording how late each tick woke."""
    series = StallSeries(folder / f"{PREFIX}api-{os.getpid()}.jsonl", f"api-{os.getpid()}")
    loop = asyncio.get_running_loop()
    try:
        while not stop.is_set():
            due = loop.time() + TICK_S
            await asyncio.sleep(TICK_S)
            series.woke(max(0.0, loop.time() - due))
    finally:
        series.close()
