"""This API worker's event-loop lag and GC pauses, second by second, for the run's explanation.

Every worker keeps its last RECENT_S seconds in memory, which /stats hands to
a lab that measures it from elsewhere (`lab run --target`); when `lab run`
started the worker with a folder (LAB_OBSERVE_DIR), each second is also
written there.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from lab.stalls import PREFIX, TICK_S, StallSeries

RECENT_S = 120     # a sampler that misses this worker for up to two minutes loses nothing


def series(folder: Path | None) -> StallSeries:
    """This worker's series (created in its lifespan: the pid is the worker's)."""
    name = f"api-{os.getpid()}"
    return StallSeries(folder / f"{PREFIX}{name}.jsonl" if folder else None, name,
                       keep=RECENT_S)


async def watch(recorded: StallSeries, stop: asyncio.Event) -> None:
    """Tick every TICK_S until `stop`, recording how late each tick woke."""
    loop = asyncio.get_running_loop()
    try:
        while not stop.is_set():
            due = loop.time() + TICK_S
            await asyncio.sleep(TICK_S)
            recorded.woke(max(0.0, loop.time() - due))
    finally:
        recorded.close()
