"""The request head, bounded and head-only (lab.api.protocol), tried with raw sockets.

Issue 27, items 9, 10 and 12: credentials in a chunked request's trailers
authenticated it; heads of any size and any duration were read whole; what
httptools could not parse was answered in text/plain. Each test here failed
on uvicorn's own httptools protocol.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator

import pytest

from lab.api.protocol import MAX_HEAD_BYTES, MAX_HEADER_FIELDS, BoundedHttpProtocol
from lab.pg.server import PgServer
from tests.api.conftest import Api, ApiServer, serve

HEAD_TIMEOUT_S = 1.0


class QuickHeads(BoundedHttpProtocol):
    head_timeout_s = HEAD_TIMEOUT_S


@pytest.fixture(scope="module")
def server(pg_server: PgServer, api_db: str) -> Iterator[ApiServer]:
    served = serve(pg_server.url(api_db), http=QuickHeads)
    yield served
    served.stop()


@pytest.fixture(scope="module")
def api(server: ApiServer) -> Iterator[Api]:
    client = Api(server.url)
    yield client
    client.close()


def exchange(server: ApiServer, *parts: bytes, pause_s: float = 0.0,
             timeout_s: float = 10.0) -> tuple[int, dict[str, str], bytes]:
    """Send `parts` (pausing between them), read until the server closes; the status, the
    headers (lower-case names) and the body. A reset after the answer counts as closing."""
    answer = b""
    with socket.create_connection(("127.0.0.1", server.port), timeout=timeout_s) as conn:
        try:
            for part in parts:
                conn.sendall(part)
                time.sleep(pause_s)
            while chunk := conn.recv(65536):
                answer += chunk
        except (ConnectionResetError, BrokenPipeError):
            pass
    head, _, body = answer.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    assert lines[0].startswith("HTTP/1.1 "), answer[:200]
    headers = dict(line.lower().split(": ", 1) for line in lines[1:])
    return int(lines[0].split()[1]), headers, body


def refused(answer: tuple[int, dict[str, str], bytes], status: int, code: str) -> str:
    """An answer in the API's error shape, with the connection closed; its detail."""
    got, headers, body = answer
    assert got == status, answer
    assert headers["content-type"] == "application/json" and headers["connection"] == "close"
    document = json.loads(body)
    assert document["code"] == code, document
    return str(document["detail"])


def test_credentials_in_trailers_do_not_authenticate(server: ApiServer, api: Api) -> None:
    author = api.register("tr")
    body = b'{"body": "from the trailers"}'
    head = (b"POST /tweets HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n")
    chunked = b"%x\r\n%s\r\n0\r\nAuthorization: Bearer %s\r\n\r\n" % (
        len(body), body, author.token.encode())
    status, _, answer = exchange(server, head + chunked)
    assert status == 401, answer
    assert author.http.get(f"/users/{author.id}/tweets").json()["tweets"] == []
    # A trailer does not replace the head's own credentials either.
    other = api.register("tr2")
    head = head.replace(b"Connection: close", b"Connection: close\r\nAuthorization: Bearer "
                        + other.token.encode())
    status, _, answer = exchange(server, head + chunked)
    assert status == 201 and json.loads(answer)["tweet"]["user_id"] == other.id, answer


def test_a_long_request_target_is_414(server: ApiServer) -> None:
    answer = exchange(server, b"GET /users/1?" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    assert "request target longer than" in refused(answer, 414, "uri_too_long")


@pytest.mark.parametrize("head", [
    b"X-Big: " + b"v" * (MAX_HEAD_BYTES + 1) + b"\r\n",
    b"".join(b"X-F%d: v\r\n" % i for i in range(MAX_HEADER_FIELDS + 1))],
    ids=["one-large-field", "many-fields"])
def test_a_large_head_is_431(server: ApiServer, head: bytes) -> None:
    answer = exchange(server, b"GET /users/1 HTTP/1.1\r\nHost: x\r\n" + head + b"\r\n")
    refused(answer, 431, "head_too_large")


def test_a_head_of_megabytes_is_refused_before_it_is_read(server: ApiServer) -> None:
    """8 MB of one header value: refused once the limit is passed, not buffered whole."""
    started = time.monotonic()
    answer = exchange(server, b"GET /users/1 HTTP/1.1\r\nHost: x\r\nX-Big: ",
                      *[b"v" * 65536] * 128)
    refused(answer, 431, "head_too_large")
    assert time.monotonic() - started < 5


def test_a_trickled_head_is_408(server: ApiServer) -> None:
    lines = [b"GET /users/1 HTTP/1.1\r\n", b"Host: x\r\n", b"X-A: 1\r\n", b"X-B: 2\r\n"]
    started = time.monotonic()
    answer = exchange(server, *lines, pause_s=HEAD_TIMEOUT_S / 2)
    assert "not received within 1 s" in refused(answer, 408, "request_timeout")
    assert time.monotonic() - started < HEAD_TIMEOUT_S * 4


def test_a_connection_that_asks_nothing_is_closed(server: ApiServer) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as conn:
        started = time.monotonic()
        assert conn.recv(1024) == b""        # closed without an answer
        assert HEAD_TIMEOUT_S * 0.8 < time.monotonic() - started < HEAD_TIMEOUT_S * 5


@pytest.mark.parametrize("raw", [
    b"NOT-HTTP\r\n\r\n", b"BREW /users/1 HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /users/1 HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n",
    b"GET /users/1 HTTP/1.1\r\nHost: x\r\nX-A: a\x00b\r\n\r\n",
    b"POST /users HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"],
    ids=["request-line", "method", "content-length", "nul", "chunk"])
def test_an_unparsable_request_is_answered_in_the_error_shape(server: ApiServer,
                                                             raw: bytes) -> None:
    assert "cannot be parsed" in refused(exchange(server, raw), 400, "bad_request")


def test_ordinary_requests_pass_the_bounds(server: ApiServer, api: Api) -> None:
    """No false refusals: a big body in one write with its head, pipelined requests, a
    keep-alive connection idle between requests for longer than the head timeout."""
    user = api.register("ok")
    bio = "b" * 160
    assert user.http.patch("/me", json={"bio": bio}).status_code == 200
    many = {f"X-F{i}": "v" for i in range(MAX_HEADER_FIELDS - 10)}
    assert user.http.get(f"/users/{user.id}", headers=many).status_code == 200
    request = (b"GET /users/%d HTTP/1.1\r\nHost: x\r\n\r\n" % user.id)
    status, _, body = exchange(server, request * 3 + request.replace(
        b"Host: x", b"Host: x\r\nConnection: close"))
    assert status == 200 and body.count(b"HTTP/1.1 200") == 3, body[:300]
    time.sleep(HEAD_TIMEOUT_S * 1.5)
    assert user.http.get(f"/users/{user.id}").status_code == 200   # the same connection
    padded = b'{"body": "' + b"x" * 200 + b'", "pad": "' + b"p" * 50_000 + b'"}'
    status, _, body = exchange(server, b"POST /tweets HTTP/1.1\r\nHost: x\r\nAuthorization: "
                               b"Bearer " + user.token.encode() + b"\r\nContent-Type: "
                               b"application/json\r\nConnection: close\r\nContent-Length: %d"
                               b"\r\n\r\n" % len(padded) + padded)
    assert status == 422 and b"pad" in body, body[:300]     # read and judged, not a 431

