"""Health and statistics for the lab's samplers."""

from __future__ import annotations

from fastapi import APIRouter, Request

import lab
from lab.api.db import RETRIES, fetch_value
from lab.api.deps import Pool
from lab.api.models import Health, Stats

router = APIRouter(tags=["system"])


@router.get("/health", name="health", response_model=Health)
async def health(pool: Pool) -> Health:
    """200 when the database answers; 503 (with Retry-After) when it does not."""
    await fetch_value(pool, "health", {})
    return Health(status="ok")


@router.get("/stats", name="stats", response_model=Stats)
async def stats(request: Request, pool: Pool) -> Stats:
    """Pool statistics (psycopg_pool get_stats: sizes, waits in ms, errors), strategy,
    background fan-out progress, retried conflicts, version."""
    settings = request.app.state.settings
    return Stats(version=lab.__version__, strategy=settings.timeline_strategy,
                 fanout_mode=settings.fanout, fanout=request.app.state.fanout.as_dict(),
                 pool=pool.get_stats(), retries=dict(RETRIES))
