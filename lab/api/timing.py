"""Per-request server timing: where a request's time went inside the API.

Each request gets a `RequestTiming` (a context variable, so the database
helpers find it without being handed it): the time spent waiting for a
pooled connection, the time from sending each statement to its last row,
and the whole request as the API saw it. They go back to the client in a
W3C `Server-Timing` header (`pool;dur=…, db;dur=…, app;dur=…`, in ms), which
browsers' developer tools display and Locust records with every sample.
The client's latency minus `app` is time outside the application: sockets,
HTTP parsing, queueing before the app, and the load generator itself.
"""

from __future__ import annotations

import time
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

HEADER = b"server-timing"


@dataclass
class RequestTiming:
    started: float
    pool_s: float = 0.0
    db_s: float = 0.0

    def header(self) -> bytes:
        app_ms = (time.perf_counter() - self.started) * 1000
        return (f"pool;dur={self.pool_s * 1000:.3f}, db;dur={self.db_s * 1000:.3f}, "
                f"app;dur={app_ms:.3f}").encode()


CURRENT: ContextVar[RequestTiming | None] = ContextVar("lab_request_timing", default=None)


def spent(pool_s: float, db_s: float) -> None:
    """Add one round trip's pool wait and database time to the current request's timing."""
    timing = CURRENT.get()
    if timing is not None:
        timing.pool_s += pool_s
        timing.db_s += db_s


class ServerTiming:
    """ASGI middleware timing each request and adding the Server-Timing header."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        timing = RequestTiming(time.perf_counter())
        token = CURRENT.set(timing)

        async def timed_send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []),
                                                  (HEADER, timing.header())]}
            await send(message)

        try:
            await self.app(scope, receive, timed_send)
        finally:
            CURRENT.reset(token)
