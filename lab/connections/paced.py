"""Paced clients: N connections, each asking at a human pace on a schedule of its own.

Every client holds one connection (a PostgreSQL session, or one keep-alive HTTP
connection) and sends requests at exponentially spaced times, `pace_per_s` on
average: N clients offer N x pace requests/s, like N people reading. Latency is
measured from when a request was *due*, not when it went out, so a server that
falls behind is charged for the queue it builds (no coordinated omission). The
same engine drives all three paths, so their lines on a chart are comparable.

Beside the latencies, each level says how busy this machine's CPUs were in its window
and, on the API path, what the API's own Server-Timing says of each request: a tail
that grows where the server's own time does not is spent outside it (sockets, a wait
for a core, the generator).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import h11
import numpy as np
import psutil
import psycopg

from lab.connections.results import LevelResult, connect_summary, with_latencies
from lab.connections.workload import Request, Workload
from lab.load.samples import TIMING_PARTS, server_timing
from lab.percentiles import latency_summary

REQUEST_TIMEOUT_S = 10.0
CONNECT_TIMEOUT_S = 10.0
CONNECTING_AT_ONCE = 64     # a connect storm measures the accept queue, not a session
LAG_PROBE_S = 0.01          # how often the generator checks how late its own loop wakes


class RequestFailed(Exception):
    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind


Timing = tuple[int | None, int | None, int | None]    # the API's app, pool, db in µs


class Client(Protocol):
    async def send(self, request: Request) -> Timing | None: ...
    async def close(self) -> None: ...


class DatabaseClient:
    """One PostgreSQL session running the workload's SQL.

    Statements are not prepared server-side: PgBouncer 1.18 in transaction mode
    cannot carry prepared statements, and both database paths must do the same work.
    """

    def __init__(self, conn: psycopg.AsyncConnection, workload: Workload) -> None:
        self.conn, self.workload = conn, workload

    @classmethod
    async def open(cls, url: str, workload: Workload) -> DatabaseClient:
        conn = await psycopg.AsyncConnection.connect(url, autocommit=True, prepare_threshold=None,
                                                     connect_timeout=int(CONNECT_TIMEOUT_S))
        return cls(conn, workload)

    async def send(self, request: Request) -> Timing | None:
        try:
            cursor = await self.conn.execute(self.workload.sql(request), request.params)
            await cursor.fetchall()
        except psycopg.OperationalError as exc:
            raise RequestFailed("refused" if self.conn.closed else "sql") from exc
        except psycopg.Error as exc:
            raise RequestFailed("sql") from exc
        return None

    async def close(self) -> None:
        await self.conn.close()


class HttpClient:
    """One keep-alive HTTP/1.1 connection to the API (h11 over asyncio streams)."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.h11 = h11.Connection(h11.CLIENT)

    @classmethod
    async def open(cls, host: str, port: int) -> HttpClient:
        client = cls(host, port)
        await client.connect()
        return client

    async def connect(self) -> None:
        try:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        except OSError as exc:
            raise RequestFailed("refused") from exc
        self.h11 = h11.Connection(h11.CLIENT)

    async def send(self, request: Request) -> Timing | None:
        """Send one request; return the API's Server-Timing of it (None parts without one)."""
        if self.writer is None or self.h11.our_state is not h11.IDLE:
            await self.close()
            await self.connect()
        try:
            status, timing = await self._exchange(request)
        except (ConnectionError, h11.RemoteProtocolError):
            # The server closed an idle keep-alive connection: open a new one, once.
            await self.close()
            await self.connect()
            status, timing = await self._exchange(request)
        if status >= 500:
            raise RequestFailed("http_5xx")
        if status >= 300:
            raise RequestFailed("http_other")
        return server_timing(timing)

    async def _exchange(self, request: Request) -> tuple[int, str | None]:
        assert self.reader is not None and self.writer is not None
        headers = [("Host", f"{self.host}:{self.port}")]
        if request.token:
            headers.append(("Authorization", f"Bearer {request.token}"))
        self.writer.write(self.h11.send(h11.Request(method="GET", target=request.http_path,
                                                    headers=headers)) or b"")
        self.writer.write(self.h11.send(h11.EndOfMessage()) or b"")
        await self.writer.drain()
        status, timing = 0, None
        while True:
            event = self.h11.next_event()
            if event is h11.NEED_DATA:
                data = await self.reader.read(65536)
                if not data and status == 0:
                    raise ConnectionError("closed before a response")
                self.h11.receive_data(data)
            elif isinstance(event, h11.Response):
                status = event.status_code
                timing = next((value.decode("latin-1") for name, value in event.headers
                               if name == b"server-timing"), None)
            elif isinstance(event, h11.EndOfMessage):
                self.h11.start_next_cycle()
                return status, timing
            elif isinstance(event, h11.ConnectionClosed):
                raise ConnectionError("closed during a response")

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(OSError):
                await self.writer.wait_closed()
        self.reader = self.writer = None


Opener = Callable[[], Awaitable[Client]]


@dataclass
class Tally:
    latency_us: list[int] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    connect_ms: list[float] = field(default_factory=list)
    first_request_ms: list[float] = field(default_factory=list)
    lag_us: list[int] = field(default_factory=list)
    server_us: dict[str, list[int]] = field(
        default_factory=lambda: {part: [] for part in TIMING_PARTS})

    def timed(self, timing: Timing | None) -> None:
        """Keep a request's Server-Timing parts (only whole ones: they are read side by side)."""
        if timing is not None and all(part is not None for part in timing):
            for part, value in zip(TIMING_PARTS, timing, strict=True):
                self.server_us[part].append(int(value or 0))


async def _probe_lag(end: float, tally: Tally) -> None:
    """How late this process's own loop wakes a sleeper. A paced latency counts from when
    the request was due, so a client woken late by a busy generator adds that lateness:
    the probe says how much of a level's tail is the generator's, not the server's."""
    loop = asyncio.get_running_loop()
    while loop.time() < end:
        due = loop.time() + LAG_PROBE_S
        await asyncio.sleep(LAG_PROBE_S)
        tally.lag_us.append(int((loop.time() - due) * 1e6))


async def _open(opener: Opener, gate: asyncio.Semaphore, tally: Tally) -> Client | None:
    async with gate:
        started = time.perf_counter()
        try:
            client = await asyncio.wait_for(opener(), CONNECT_TIMEOUT_S)
        except TimeoutError:
            tally.errors["timeout"] += 1
            return None
        except (RequestFailed, psycopg.Error, OSError):
            tally.errors["refused"] += 1
            return None
        tally.connect_ms.append((time.perf_counter() - started) * 1000)
        return client


async def _warm(client: Client, workload: Workload, rng: random.Random,
                gate: asyncio.Semaphore, tally: Tally) -> Client | None:
    """Send a session's first request, untimed by the paced window but recorded.

    A new PostgreSQL backend fills its catalog caches on its first statements:
    a one-off cost of each new session (shown as first-request latency), not
    the steady state the paced comparison is about.
    """
    async with gate:
        started = time.perf_counter()
        try:
            await asyncio.wait_for(client.send(workload.pick(rng)), REQUEST_TIMEOUT_S)
        except TimeoutError:
            tally.errors["timeout"] += 1
            await _quietly_close(client)
            return None
        except RequestFailed as failed:
            tally.errors[failed.kind] += 1
        tally.first_request_ms.append((time.perf_counter() - started) * 1000)
        return client


async def _pace(client: Client, opener: Opener, workload: Workload, rng: random.Random,
                pace_per_s: float, start: float, end: float, tally: Tally) -> Client | None:
    loop = asyncio.get_running_loop()
    due = start + rng.expovariate(pace_per_s)
    current: Client | None = client
    while due < end:
        delay = due - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        if current is None:     # a timed-out session is in an unknown state: start anew
            try:
                current = await asyncio.wait_for(opener(), CONNECT_TIMEOUT_S)
            except (TimeoutError, RequestFailed, psycopg.Error, OSError):
                tally.errors["refused"] += 1
                due += rng.expovariate(pace_per_s)
                continue
        try:
            timing = await asyncio.wait_for(current.send(workload.pick(rng)), REQUEST_TIMEOUT_S)
            tally.latency_us.append(int((loop.time() - due) * 1e6))
            tally.timed(timing)
        except TimeoutError:
            tally.errors["timeout"] += 1
            await _quietly_close(current)
            current = None
        except RequestFailed as failed:
            tally.errors[failed.kind] += 1
        due += rng.expovariate(pace_per_s)
    return current


async def _quietly_close(client: Client) -> None:
    # Closing a broken session must not end the level.
    with contextlib.suppress(Exception):
        await asyncio.wait_for(client.close(), 5)


async def _level(opener: Opener, clients: int, workload: Workload, pace_per_s: float,
                 duration_s: float, seed: int) -> tuple[Tally, float, float]:
    tally = Tally()
    gate = asyncio.Semaphore(CONNECTING_AT_ONCE)
    opened = await asyncio.gather(*(_open(opener, gate, tally) for _ in range(clients)))
    warmed = await asyncio.gather(*(
        _warm(client, workload, random.Random(seed * 7 + i), gate, tally)
        for i, client in enumerate(c for c in opened if c is not None)))
    live = [c for c in warmed if c is not None]
    loop = asyncio.get_running_loop()
    start = loop.time() + 0.05
    cpu_before, machine_before = psutil.Process().cpu_times(), psutil.cpu_times()
    probe = asyncio.create_task(_probe_lag(start + duration_s, tally))
    finished = await asyncio.gather(*(
        _pace(client, opener, workload, random.Random(seed * 100_003 + i), pace_per_s, start,
              start + duration_s, tally) for i, client in enumerate(live)))
    await probe
    cpu_after, machine_after = psutil.Process().cpu_times(), psutil.cpu_times()
    busy = (cpu_after.user + cpu_after.system) - (cpu_before.user + cpu_before.system)
    await asyncio.gather(*(_quietly_close(c) for c in finished if c is not None))
    return tally, busy / duration_s * 100, machine_busy_percent(machine_before, machine_after)


def machine_busy_percent(before: Any, after: Any) -> float:
    """The share of all this machine's CPU time between two psutil.cpu_times() that was not
    idle. Guest time is already inside user and nice on Linux: not counted twice."""
    spent = {name: getattr(after, name) - getattr(before, name) for name in after._fields}
    total = sum(spent.values()) - spent.get("guest", 0.0) - spent.get("guest_nice", 0.0)
    idle = spent["idle"] + spent.get("iowait", 0.0)
    return round(100 * (total - idle) / total, 1) if total > 0 else 0.0


def run_paced(path: str, opener: Opener, clients: int, workload: Workload, pace_per_s: float,
              duration_s: float, seed: int = 1) -> LevelResult:
    """Run one paced level to the end and return its measurements."""
    tally, cpu, machine = asyncio.run(_level(opener, clients, workload, pace_per_s, duration_s,
                                             seed))
    result = LevelResult(path=path, mode="paced", clients=clients, tool="lab (asyncio)",
                         errors=dict(tally.errors), connect_ms=connect_summary(tally.connect_ms),
                         first_request_ms=connect_summary(tally.first_request_ms),
                         client_cpu_percent=round(cpu, 1), machine_busy_percent=machine)
    lags = latency_summary(np.array(tally.lag_us, dtype=np.int64))
    result.client_lag_ms = {key: lags[key] for key in ("p50", "p95", "max")}
    if tally.server_us["app"]:
        summaries = {part: latency_summary(np.array(values, dtype=np.int64))
                     for part, values in tally.server_us.items()}
        result.server_timing_ms = {part: {key: summary[key] for key in ("p50", "p95")}
                                   for part, summary in summaries.items()}
    return with_latencies(result, np.array(tally.latency_us, dtype=np.int64), duration_s)


def database_opener(url: str, workload: Workload) -> Opener:
    async def opener() -> Client:
        return await DatabaseClient.open(url, workload)
    return opener


def http_opener(host: str, port: int) -> Opener:
    async def opener() -> Client:
        return await HttpClient.open(host, port)
    return opener
