"""Health and statistics for the lab's samplers."""

from __future__ import annotations

import os
import time

import psutil
from fastapi import APIRouter, Request

import lab
from lab.api.db import RETRIES, fetch_value
from lab.api.deps import Pool
from lab.api.models import Health, ProcessStats, Stats

router = APIRouter(tags=["system"])


@router.get("/health", name="health", response_model=Health)
async def health(pool: Pool) -> Health:
    """200 when the database answers; 503 (with Retry-After) when it does not."""
    await fetch_value(pool, "health", {})
    return Health(status="ok")


@router.get("/stats", name="stats", response_model=Stats)
async def stats(request: Request, pool: Pool) -> Stats:
    """Pool statistics (psycopg_pool get_stats: sizes, waits in ms, errors), strategy,
    background fan-out progress, retried conflicts, version; and this worker's process
    (CPU, memory) and its last seconds of loop lag and GC pauses, so a lab measuring the API
    from another machine sees what it would see locally."""
    settings = request.app.state.settings
    times = os.times()
    process = ProcessStats(pid=os.getpid(), ts=time.time(), cpu_s=times.user + times.system,
                           rss_mb=round(psutil.Process().memory_info().rss / 2**20, 1))
    return Stats(version=lab.__version__, strategy=settings.timeline_strategy,
                 fanout_mode=settings.fanout, fanout=request.app.state.fanout.as_dict(),
                 pool=pool.get_stats(), retries=dict(RETRIES), process=process,
                 stalls=list(request.app.state.stalls.recent))
