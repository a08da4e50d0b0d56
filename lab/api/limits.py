"""Bound request bodies before anything reads them.

Field limits (280 characters, 160 for a bio) are checked by the models, but
only after the framework has read the whole body; this middleware refuses a
body larger than any valid request long before that: 413, whether the size
is declared (Content-Length) or not (chunked).
"""

from __future__ import annotations

import json
from typing import Any

MAX_BODY_BYTES = 64 * 1024

Scope = dict[str, Any]


class BodyLimit:
    """ASGI middleware answering 413 for bodies over `limit` bytes."""

    def __init__(self, app: Any, limit: int = MAX_BODY_BYTES) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await self._refuse(send)
            return
        seen = 0
        refused = False

        async def counting_receive() -> dict[str, Any]:
            # Past the limit: answer 413 now and tell the app the client left
            # (an exception here would become the framework's generic 400).
            nonlocal seen, refused
            message: dict[str, Any] = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit and not refused:
                    refused = True
                    await self._refuse(send)
            return {"type": "http.disconnect"} if refused else message

        async def guarded_send(message: dict[str, Any]) -> None:
            if not refused:  # after a 413, whatever the app answers is dropped
                await send(message)

        await self.app(scope, counting_receive, guarded_send)

    async def _refuse(self, send: Any) -> None:
        body = json.dumps({"detail": f"request body larger than {self.limit} bytes",
                           "code": "too_large"}).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})
