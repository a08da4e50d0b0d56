"""The lab's HTTP load generator against a real HTTP/1.1 server on 127.0.0.1.

It replaces wrk, so it must count what wrk counts: every answer in its window by
status, sockets that fail, answers that come too late; and each numbered request
must carry a number of its own with a correct Content-Length.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from lab.httpload import SEQUENCE_MARK, render_get, render_request, run_http_load


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"      # keep-alive, as the API serves
    wbufsize = 65536                   # one write per answer (no Nagle/delayed-ACK stalls)
    bodies: list[bytes] = []

    def answer(self, status: int, close: bool = False) -> None:
        body = b'{"ok": true}'
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        if close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        if self.path == "/drop":          # read the request, hang up without an answer
            self.close_connection = True
            return
        if self.path == "/slow":
            time.sleep(1.5)
        self.answer({"/busy": 503}.get(self.path, 200), close=self.path == "/close")

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        Handler.bodies.append(body)
        self.answer(201)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[int]:
    Handler.bodies = []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield int(httpd.server_address[1])
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_every_answer_in_the_window_is_counted_by_status_and_timed(server: int) -> None:
    requests = [render_get("127.0.0.1", server, "/ok"), render_get("127.0.0.1", server, "/busy")]
    # The server runs in this process: its CPU inside the window is watched too.
    run = run_http_load("127.0.0.1", server, requests, connections=3, seconds=1.0,
                        watch_pids=(os.getpid(),))
    assert run.connected == 3 and run.errors == {}
    assert run.statuses["2xx"] > 10 and run.statuses["5xx"] > 10
    # Each connection alternates, so the two kinds differ by at most one per connection.
    assert abs(run.statuses["2xx"] - run.statuses["5xx"]) <= 3
    assert run.ok == run.statuses["2xx"] == len(run.latency_us)
    assert run.non_2xx == run.statuses["5xx"]
    assert (run.latency_us > 0).all() and run.per_s == pytest.approx(run.ok / run.seconds)
    assert run.cpu_s >= run.window_cpu_s > 0
    assert run.watched_cpu_s is not None and run.watched_cpu_s > 0


def test_numbered_requests_each_carry_their_own_number(server: int) -> None:
    body = json.dumps({"username": f"u{SEQUENCE_MARK.decode()}"})
    request = render_request("127.0.0.1", server, "POST", "/users", json_body=body)
    run = run_http_load("127.0.0.1", server, [request], connections=2, seconds=0.5)
    names = [json.loads(b)["username"] for b in Handler.bodies]    # every body parsed whole
    assert run.statuses["2xx"] > 0 and run.errors == {}
    assert len(names) == len(set(names)) >= run.statuses["2xx"]
    assert all(len(name) == 1 + len(SEQUENCE_MARK) and name[1:].isdigit() for name in names)


def test_a_server_that_closes_is_reconnected_and_a_late_answer_is_a_timeout(
        server: int) -> None:
    closing = run_http_load("127.0.0.1", server, [render_get("127.0.0.1", server, "/close")],
                            connections=2, seconds=0.5)
    assert closing.statuses["2xx"] > 5          # a new connection after each closed one
    assert closing.errors == {}                 # and no request sent on a closing one
    slow = run_http_load("127.0.0.1", server, [render_get("127.0.0.1", server, "/slow")],
                         connections=2, seconds=1.5, timeout_s=0.5, warmup_s=0.1)
    assert slow.errors.get("timeout", 0) >= 2 and slow.ok == 0


def test_nothing_listening_is_counted_as_refused() -> None:
    from lab.processes import free_port
    port = free_port()
    run = run_http_load("127.0.0.1", port, [render_get("127.0.0.1", port, "/")],
                        connections=4, seconds=0.2, warmup_s=0.0)
    assert run.connected == 0 and run.ok == 0 and run.errors == {"refused": 4}


def test_a_dropped_answer_is_a_read_error_and_never_a_refusal(server: int) -> None:
    """SC4's API level counted read and protocol errors as refused, and a sweep stops
    climbing on refusals: a server that accepts and hangs up must read as 'read'."""
    from lab.connections.saturating import http_level

    class Dropping:
        def http_requests(self, host: str, port: int) -> list[bytes]:
            return [render_get(host, port, "/drop")]

    level = http_level("127.0.0.1", server, Dropping(), clients=2, duration_s=1)  # type: ignore[arg-type]
    assert level.errors.get("read", 0) > 0 and "refused" not in level.errors, level.errors
