"""Bound request bodies before anything reads them: in size, and in the time they take.

Field limits (280 characters, 160 for a bio) are checked by the models, but
only after the framework has read the whole body; this middleware refuses a
body larger than any valid request long before that: 413, whether the size
is declared (Content-Length) or not (chunked). A body that does not arrive
(a client declaring 100 bytes and sending 3, or a slowloris) would hold its
request open for as long as the client likes: past `timeout_s` it is answered
408 and the connection is closed.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

MAX_BODY_BYTES = 64 * 1024
BODY_TIMEOUT_S = 10.0

Scope = dict[str, Any]


class BodyLimit:
    """ASGI middleware answering 413 for bodies over `limit` bytes and 408 for bodies that
    take longer than `timeout_s` to arrive."""

    def __init__(self, app: Any, limit: int = MAX_BODY_BYTES,
                 timeout_s: float = BODY_TIMEOUT_S) -> None:
        self.app, self.limit, self.timeout_s = app, limit, timeout_s

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await self._refuse(send, 413, "too_large",
                               f"request body larger than {self.limit} bytes")
            return
        seen = 0
        refused = False
        body_done = False
        deadline = asyncio.get_running_loop().time() + self.timeout_s

        async def guarded_receive() -> dict[str, Any]:
            # Refused: answer now and tell the app the client left (an exception here
            # would become the framework's generic 400).
            nonlocal seen, refused, body_done
            if refused:
                return {"type": "http.disconnect"}
            try:
                if body_done:     # waiting for a disconnect, not for the body: no bound
                    message: dict[str, Any] = await receive()
                else:
                    remaining = deadline - asyncio.get_running_loop().time()
                    message = await asyncio.wait_for(receive(), max(0.0, remaining))
            except TimeoutError:
                refused = True
                await self._refuse(send, 408, "request_timeout",
                                   f"the request body did not arrive within "
                                   f"{self.timeout_s:g} s", close=True)
                return {"type": "http.disconnect"}
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                body_done = not message.get("more_body", False)
                if seen > self.limit:
                    refused = True
                    await self._refuse(send, 413, "too_large",
                                       f"request body larger than {self.limit} bytes")
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: dict[str, Any]) -> None:
            if not refused:  # after a refusal, whatever the app answers is dropped
                await send(message)

        await self.app(scope, guarded_receive, guarded_send)

    async def _refuse(self, send: Any, status: int, code: str, detail: str,
                      close: bool = False) -> None:
        body = json.dumps({"detail": detail, "code": code}).encode()
        headers = [(b"content-type", b"application/json"),
                   (b"content-length", str(len(body)).encode())]
        if close:
            headers.append((b"connection", b"close"))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
