"""The FastAPI application: one pool per worker process, opened in the lifespan."""

from __future__ import annotations

import asyncio
import gc
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

import lab
from lab.api import errors, fanout, stalls
from lab.api.cursors import CursorSeal
from lab.api.db import make_pool
from lab.api.limits import BodyLimit
from lab.api.models import ERROR_RESPONSES
from lab.api.routes import graph, system, timeline, tweets, users
from lab.api.timing import ServerTiming
from lab.api.tokens import TokenCache
from lab.config import Settings, get_settings
from lab.errors import LabError


def create_app(dsn: str | None = None, settings: Settings | None = None) -> FastAPI:
    """Build the app for `dsn` (default LAB_API_DSN, which `lab serve` sets)."""
    settings = settings or get_settings()
    dsn = dsn or settings.api_dsn
    if not dsn:
        raise LabError("the API needs a database: run it with `lab serve`, or set LAB_API_DSN")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        pool = make_pool(dsn, settings)
        # Do not wait for the database at start-up: /health reports it, and the
        # pool keeps trying to connect in the background.
        await pool.open(wait=False)
        app.state.pool = pool
        stop = asyncio.Event()
        tasks = []
        if settings.fanout == "queue" and settings.timeline_strategy != "pull":
            tasks.append(asyncio.create_task(fanout.run(dsn, settings, app.state.fanout, stop)))
        app.state.stalls = stalls.series(settings.observe_dir)
        tasks.append(asyncio.create_task(stalls.watch(app.state.stalls, stop)))
        # What imports and start-up built lives as long as the worker: frozen, the
        # collector's full passes stop walking it (each had paused a worker's loop 60-86 ms
        # under make run, the worst seconds' loop lag).
        if settings.gc_freeze:
            gc.collect()
            gc.freeze()
        try:
            yield
        finally:
            if settings.gc_freeze:
                gc.unfreeze()
            stop.set()
            for task in tasks:
                await task
            await pool.close()

    # No redirect on a trailing slash: Starlette built its Location from the Host header,
    # so any client could steer it (issue 27, item 11). `/me/` is a 404, as any unknown path.
    app = FastAPI(title="timeline-lab API", version=lab.__version__, lifespan=lifespan,
                  redirect_slashes=False,
                  description="The Twitter-like service the lab's load scenarios drive.")
    app.state.settings = settings
    app.state.token_cache = TokenCache(settings.token_cache_s)
    app.state.cursor_seal = CursorSeal(bytes.fromhex(settings.cursor_key) if settings.cursor_key
                                       else os.urandom(32))
    app.state.fanout = fanout.FanoutStats()
    errors.install(app)
    app.add_middleware(BodyLimit, timeout_s=settings.body_timeout_s)
    if settings.server_timing:     # outermost: it times everything the app does
        app.add_middleware(ServerTiming)
    for module in (users, graph, tweets, timeline, system):
        app.include_router(module.router, responses=ERROR_RESPONSES)
    return app


def __getattr__(name: str) -> FastAPI:
    """Create `app` lazily, so importing this module needs no configuration."""
    if name == "app":
        return create_app()
    raise AttributeError(name)
