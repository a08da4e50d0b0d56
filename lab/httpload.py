"""A closed-loop HTTP/1.1 load generator that installs with the package (no wrk needed).

N keep-alive connections each send a request the moment the previous answer has
arrived, the way wrk does; every answer's latency is kept exactly (wrk keeps a
histogram). It runs as a child process of its own (`python -m lab.httpload SPEC`),
so its CPU is measured apart from the lab's and never shares an event loop with
it, and it is a bare asyncio protocol on uvloop: the requests are rendered once
up front and cycled, and a response is parsed only as far as its status line and
Content-Length, which keeps its cost per request far below the API's.
"""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
import tempfile
import time
from array import array
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import numpy as np
import psutil

from lab.errors import LabError

CONNECTING_AT_ONCE = 64       # a connect storm measures the accept queue, not the server
HEADER_END = b"\r\n\r\n"
CONTENT_LENGTH = re.compile(rb"\r\ncontent-length:\s*(\d+)", re.IGNORECASE)
CHUNKED = re.compile(rb"\r\ntransfer-encoding:\s*chunked", re.IGNORECASE)
CLOSING = re.compile(rb"\r\nconnection:\s*close", re.IGNORECASE)


# Where a request holds SEQUENCE_MARK, each send puts the generator's next number there,
# zero-padded to the mark's width so Content-Length stays right (unique usernames, say).
SEQUENCE_MARK = b"@SEQUENCE@"
SEQUENCE_FORMAT = b"%0" + str(len(SEQUENCE_MARK)).encode() + b"d"


def render_request(host: str, port: int, method: str, path: str, token: str | None = None,
                   json_body: str | None = None) -> bytes:
    """One request as bytes on the wire (keep-alive is HTTP/1.1's default)."""
    head = f"{method} {path} HTTP/1.1\r\nHost: {host}:{port}\r\n"
    if token:
        head += f"Authorization: Bearer {token}\r\n"
    body = (json_body or "").encode()
    if json_body is not None:
        head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
    return (head + "\r\n").encode("latin-1") + body


def render_get(host: str, port: int, path: str, token: str | None = None) -> bytes:
    return render_request(host, port, "GET", path, token)


@dataclass
class HttpLoadRun:
    """What one closed-loop run measured, inside its window only."""

    seconds: float                      # the measured window
    latency_us: np.ndarray              # every 2xx answer completed in the window
    statuses: dict[str, int]            # answers by HTTP status class, in the window
    errors: dict[str, int]              # connect (refused), read, timeout, protocol
    connected: int                      # connections that were open when the window began
    cpu_s: float                        # the generator's own CPU over its whole life
    window_cpu_s: float                 # ...and inside the window
    watched_cpu_s: float | None = None  # the watched processes' CPU inside the window
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> int:
        return int(len(self.latency_us))

    @property
    def per_s(self) -> float:
        return self.ok / self.seconds if self.seconds > 0 else 0.0

    @property
    def non_2xx(self) -> int:
        return sum(n for status, n in self.statuses.items() if status != "2xx")

    @property
    def cpu_us_per_request(self) -> float | None:
        answered = sum(self.statuses.values())
        return self.window_cpu_s * 1e6 / answered if answered else None


def run_http_load(host: str, port: int, requests: list[bytes], connections: int,
                  seconds: float, timeout_s: float = 10.0, warmup_s: float = 0.5,
                  watch_pids: tuple[int, ...] = ()) -> HttpLoadRun:
    """Drive `connections` closed-loop clients at host:port for `seconds` (after `warmup_s`).

    `watch_pids`: processes of this machine (the server's) whose CPU inside the same
    window is reported too, so CPU per answer divides like by like.

    Each connection cycles through `requests` from its own starting point. Raises
    LabError when the generator itself fails; a server that refuses or errs is counted.
    """
    if not requests:
        raise LabError("the HTTP load needs at least one request")
    with tempfile.TemporaryDirectory(prefix="lab-httpload-") as folder:
        latencies = Path(folder) / "latency_us.bin"
        spec = {"host": host, "port": port, "connections": connections, "seconds": seconds,
                "timeout_s": timeout_s, "warmup_s": warmup_s,
                "requests": [r.decode("latin-1") for r in requests],
                "latencies": str(latencies), "watch_pids": list(watch_pids)}
        spec_path = Path(folder) / "spec.json"
        spec_path.write_text(json.dumps(spec))
        done = subprocess.run([sys.executable, "-m", "lab.httpload", str(spec_path)],
                              capture_output=True, text=True, check=False,
                              timeout=seconds + warmup_s + timeout_s + 120)
        if done.returncode != 0 or not done.stdout.strip():
            detail = (done.stderr or done.stdout).strip()[-400:]
            raise LabError(f"the HTTP load generator failed (exit {done.returncode}): {detail}")
        report = json.loads(done.stdout.strip().splitlines()[-1])
        latency = np.fromfile(latencies, dtype=np.int64)
    return HttpLoadRun(seconds=report["seconds"], latency_us=latency,
                       statuses=report["statuses"], errors=report["errors"],
                       connected=report["connected"], cpu_s=report["cpu_s"],
                       window_cpu_s=report["window_cpu_s"],
                       watched_cpu_s=report.get("watched_cpu_s"))


class _Shared:
    """State every connection of one run shares: requests, window, tallies."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.host, self.port = spec["host"], int(spec["port"])
        self.requests = [r.encode("latin-1") for r in spec["requests"]]
        self.numbered = [SEQUENCE_MARK in r for r in self.requests]
        self.sequence = 0
        self.timeout_ns = int(float(spec["timeout_s"]) * 1e9)
        self.window_start_ns = 1 << 62      # nothing counts until the window opens
        self.window_end_ns = 1 << 62
        self.stopping = False
        self.latency_us = array("q")
        self.statuses: Counter[str] = Counter()
        self.errors: Counter[str] = Counter()
        self.live: set[_Connection] = set()

    def counts(self, now_ns: int) -> bool:
        return self.window_start_ns <= now_ns <= self.window_end_ns


class _Connection(asyncio.Protocol):
    """One keep-alive connection: send, read one answer, send the next."""

    def __init__(self, shared: _Shared, offset: int) -> None:
        self.shared, self.next = shared, offset
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.expected: int | None = None    # bytes of the whole answer, once its head is in
        self.closing = False                # the server said Connection: close
        self.sent_ns = 0                    # 0: nothing in flight

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)   # uvloop's is no subclass
        self.shared.live.add(self)
        self._send()

    def _send(self) -> None:
        if self.shared.stopping or self.transport is None:
            return
        shared = self.shared
        self.next = (self.next + 1) % len(shared.requests)
        request = shared.requests[self.next]
        if shared.numbered[self.next]:
            shared.sequence += 1
            request = request.replace(SEQUENCE_MARK, SEQUENCE_FORMAT % shared.sequence)
        self.sent_ns = time.perf_counter_ns()
        self.transport.write(request)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while self.sent_ns:
            if self.expected is None:
                head_end = self.buffer.find(HEADER_END)
                if head_end < 0:
                    return
                head = bytes(self.buffer[:head_end + 2])
                length = CONTENT_LENGTH.search(head)
                if length is None or CHUNKED.search(head):
                    self.shared.errors["protocol"] += 1
                    self.abort()
                    return
                self.expected = head_end + len(HEADER_END) + int(length.group(1))
                self.closing = CLOSING.search(head) is not None
            if len(self.buffer) < self.expected:
                return
            self._answered(self.buffer[9:10].decode("latin-1", "replace"))
            del self.buffer[:self.expected]
            self.expected = None
            if self.closing:        # no next request on this one: a new connection takes over
                self.abort()
                return
            self._send()

    def _answered(self, status_digit: str) -> None:
        now = time.perf_counter_ns()
        shared = self.shared
        if shared.counts(now):
            kind = f"{status_digit}xx"
            shared.statuses[kind] += 1
            if kind == "2xx":
                shared.latency_us.append((now - self.sent_ns) // 1000)
        self.sent_ns = 0

    def abort(self) -> None:
        self.sent_ns = 0
        if self.transport is not None:
            self.transport.abort()

    def connection_lost(self, exc: Exception | None) -> None:
        shared = self.shared
        shared.live.discard(self)
        if self.sent_ns and not shared.stopping and shared.counts(time.perf_counter_ns()):
            shared.errors["read"] += 1
        self.transport = None
        if not shared.stopping:     # the server closed it: open another in its place
            asyncio.get_running_loop().create_task(_connect(shared, self.next, None))


async def _connect(shared: _Shared, offset: int, gate: asyncio.Semaphore | None) -> None:
    loop = asyncio.get_running_loop()
    try:
        if gate is None:
            await loop.create_connection(lambda: _Connection(shared, offset),
                                         shared.host, shared.port)
        else:
            async with gate:
                await loop.create_connection(lambda: _Connection(shared, offset),
                                             shared.host, shared.port)
    except OSError:
        shared.errors["refused"] += 1


async def _watch_timeouts(shared: _Shared) -> None:
    """Abort a connection whose answer is late (counted), then reconnect in its place."""
    while not shared.stopping:
        await asyncio.sleep(0.25)
        now = time.perf_counter_ns()
        for conn in list(shared.live):
            if conn.sent_ns and now - conn.sent_ns > shared.timeout_ns:
                if shared.counts(now):
                    shared.errors["timeout"] += 1
                conn.abort()


def _cpu_s() -> float:
    return time.process_time()


def _watched_cpu_s(pids: list[int]) -> float | None:
    """The CPU seconds used so far by `pids` (None when one of them is gone)."""
    try:
        return sum(sum(psutil.Process(pid).cpu_times()[:2]) for pid in pids)
    except psutil.Error:
        return None


async def _run(spec: dict[str, Any]) -> dict[str, Any]:
    shared = _Shared(spec)
    connections = int(spec["connections"])
    step = max(1, len(shared.requests) // max(connections, 1))
    gate = asyncio.Semaphore(CONNECTING_AT_ONCE)
    watcher = asyncio.get_running_loop().create_task(_watch_timeouts(shared))
    await asyncio.gather(*(_connect(shared, i * step, gate) for i in range(connections)))
    await asyncio.sleep(float(spec["warmup_s"]))
    connected = len(shared.live)
    watched = [int(pid) for pid in spec.get("watch_pids", [])]
    watched_start = _watched_cpu_s(watched)
    cpu_start = _cpu_s()
    start = time.perf_counter_ns()
    shared.window_start_ns = start
    shared.window_end_ns = start + int(float(spec["seconds"]) * 1e9)
    await asyncio.sleep(float(spec["seconds"]))
    shared.window_end_ns = min(shared.window_end_ns, time.perf_counter_ns())
    window_cpu = _cpu_s() - cpu_start
    watched_end = _watched_cpu_s(watched)
    shared.stopping = True
    watcher.cancel()
    for conn in list(shared.live):
        conn.abort()
    await asyncio.sleep(0)
    Path(spec["latencies"]).write_bytes(np.frombuffer(shared.latency_us, dtype=np.int64)
                                        .tobytes())
    return {"seconds": (shared.window_end_ns - start) / 1e9, "statuses": dict(shared.statuses),
            "errors": dict(shared.errors), "connected": connected, "cpu_s": _cpu_s(),
            "window_cpu_s": window_cpu,
            "watched_cpu_s": (watched_end - watched_start if watched and watched_end is not None
                              and watched_start is not None else None)}


def main(argv: list[str]) -> int:
    spec = json.loads(Path(argv[1]).read_text())
    try:
        import uvloop
        report = uvloop.run(_run(spec))
    except ImportError:     # uvloop is Unix-only: plain asyncio works, at a higher cost
        report = asyncio.run(_run(spec))
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
