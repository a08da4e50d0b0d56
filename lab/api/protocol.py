"""The HTTP/1.1 protocol the API is served with: uvicorn's httptools one, bounded.

uvicorn reads a request head without limit of size or time, answers what
httptools cannot parse with a text/plain 400, and appends a chunked request's
trailer fields to the headers the application already holds (so a credential
sent only in the trailers authenticated the request). This subclass:

- reads the head only: trailer fields are discarded (RFC 9110 §6.5.2 lets a
  recipient do so; none of this API's routes uses them);
- bounds the head: a request target over `MAX_TARGET_BYTES` is 414, a head
  over `MAX_HEAD_BYTES` or with more than `MAX_HEADER_FIELDS` fields is 431,
  a head that has not arrived `head_timeout_s` after its first byte is 408,
  and a connection that sends nothing for that long after opening is closed;
- answers every refusal, a parse error included, in the API's JSON error
  shape, then closes the connection (what follows cannot be framed): it
  ends its side, discards what still arrives for `LINGER_S`, then closes,
  so a client still sending reads the answer instead of a reset.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from lab.config import get_settings

MAX_TARGET_BYTES = 8 * 1024      # nginx's large_client_header_buffers: 4 buffers of 8 KiB
MAX_HEAD_BYTES = 32 * 1024
MAX_HEADER_FIELDS = 100          # the default of Go's and Node's servers is of this order
LINGER_S = 2.0


class Refused(Exception):
    """Raised inside a parser callback to stop parsing; httptools re-raises it wrapped as
    a parser error, and uvicorn's handler of those calls `send_400_response`."""


class BoundedHttpProtocol(HttpToolsProtocol):
    """httptools' protocol with a bounded, head-only request head (see the module)."""

    head_timeout_s: float | None = None      # None: the settings' (LAB_HEAD_TIMEOUT_S)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.head_limit_s = self.head_timeout_s or get_settings().head_timeout_s
        self.in_head = True          # the bytes arriving belong to a request head
        self.phase_bytes = 0         # bytes received since the current head began
        self.head_size = 0           # the current head's target and fields, as parsed
        self.fields = 0
        self.lingering = False
        self.refusal: tuple[int, str, str] | None = None
        self.head_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.arm_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self.cancel_head_timer()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        # Counted before parsing; a head or message ending inside `data` resets the count,
        # so what is left counted after parsing belongs to the current phase only.
        if self.lingering:
            return
        self.phase_bytes += len(data)
        super().data_received(data)
        if self.transport.is_closing() or self.lingering:
            return
        if self.in_head and self.phase_bytes > MAX_HEAD_BYTES:
            self.refuse(431, "head_too_large",
                        f"request head larger than {MAX_HEAD_BYTES} bytes")

    # Parser callbacks
    def on_message_begin(self) -> None:
        super().on_message_begin()
        self.in_head, self.fields, self.head_size = True, 0, 0
        self.arm_head_timer()

    def on_url(self, url: bytes) -> None:
        super().on_url(url)
        if len(self.url) > MAX_TARGET_BYTES:
            self.stop(414, "uri_too_long", f"request target longer than {MAX_TARGET_BYTES} bytes")

    def on_header(self, name: bytes, value: bytes) -> None:
        if not self.in_head:
            return                    # a trailer field: never part of the request's headers
        self.fields += 1
        self.head_size += len(name) + len(value) + 4
        if self.fields > MAX_HEADER_FIELDS:
            self.stop(431, "head_too_large", f"more than {MAX_HEADER_FIELDS} header fields")
        if len(self.url) + self.head_size > MAX_HEAD_BYTES:
            self.stop(431, "head_too_large", f"request head larger than {MAX_HEAD_BYTES} bytes")
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self.in_head, self.phase_bytes = False, 0
        self.cancel_head_timer()
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self.in_head, self.phase_bytes = True, 0
        super().on_message_complete()

    # Refusals
    def stop(self, status: int, code: str, detail: str) -> None:
        self.refusal = (status, code, detail)
        raise Refused(detail)

    def send_400_response(self, msg: str) -> None:
        status, code, detail = self.refusal or (400, "bad_request",
                                                "invalid HTTP request: cannot be parsed")
        self.refuse(status, code, detail)

    def refuse(self, status: int, code: str, detail: str) -> None:
        """Answer in the API's error shape and close: the rest of the stream is unframed."""
        self.cancel_head_timer()
        body = json.dumps({"detail": detail, "code": code}).encode()
        head = [STATUS_LINE[status]]
        head += [name + b": " + value + b"\r\n"
                 for name, value in self.server_state.default_headers]
        head += [b"content-type: application/json\r\n",
                 b"content-length: %d\r\n" % len(body), b"connection: close\r\n\r\n"]
        self.transport.write(b"".join(head) + body)
        self.lingering = True
        if self.transport.can_write_eof():
            self.transport.write_eof()
        self.loop.call_later(LINGER_S, self.transport.close)

    # The head's clock
    def arm_head_timer(self) -> None:
        self.cancel_head_timer()
        self.head_timer = self.loop.call_later(self.head_limit_s, self.head_timed_out)

    def cancel_head_timer(self) -> None:
        if self.head_timer is not None:
            self.head_timer.cancel()
            self.head_timer = None

    def head_timed_out(self) -> None:
        self.head_timer = None
        if self.transport.is_closing() or self.lingering or not self.in_head:
            return
        if self.cycle is not None and not self.cycle.response_complete:
            self.arm_head_timer()     # a pipelined head waits for the answer before it
            return
        if self.phase_bytes:
            self.refuse(408, "request_timeout",
                        f"request head not received within {self.head_limit_s:g} s")
        else:
            self.transport.close()    # nothing was asked: nothing to answer
