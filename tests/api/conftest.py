"""A real uvicorn server on 127.0.0.1 in front of a real database, and an HTTP client.

The server runs in a thread of the test process with its own event loop (as
`lab serve` would run it, minus the separate process), bound to loopback
only, and is stopped at the end of the module.
"""

from __future__ import annotations

import contextlib
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from lab.api.main import create_app
from lab.api.protocol import BoundedHttpProtocol
from lab.config import Settings
from lab.pg.server import PgServer
from tests.conftest import copy_of, free_port

START_TIMEOUT_S = 20


class ApiServer:
    """uvicorn serving `app` on a free loopback port until stop()."""

    def __init__(self, app: FastAPI, http: type[BoundedHttpProtocol] = BoundedHttpProtocol
                 ) -> None:
        self.port = free_port()
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning",
                                access_log=False, lifespan="on", http=http)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> ApiServer:
        self.thread.start()
        deadline = time.monotonic() + START_TIMEOUT_S
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the API server did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)


def serve(dsn: str, http: type[BoundedHttpProtocol] = BoundedHttpProtocol,
          **settings: Any) -> ApiServer:
    """The API on `dsn` with `settings`, served with the protocol `lab serve` uses."""
    values = {"pool_min": 1, "pool_max": 4, "pool_timeout_s": 2.0, **settings}
    app = create_app(dsn, Settings(_env_file=None, **values))  # type: ignore[call-arg]
    return ApiServer(app, http).start()


@dataclass
class Account:
    """A registered user and an HTTP client that acts as them."""

    id: int
    username: str
    token: str
    http: httpx.Client
    profile: dict[str, Any] = field(default_factory=dict)


class Api:
    """Register users and make requests against the server under test."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.anonymous = httpx.Client(base_url=url, timeout=10)
        self.clients: list[httpx.Client] = [self.anonymous]

    def register(self, prefix: str = "u", **extra: Any) -> Account:
        name = f"{prefix}{uuid.uuid4().hex[:8]}"[:15]
        body = {"username": name, "email": f"{name}@example.com", "display_name": name, **extra}
        response = self.anonymous.post("/users", json=body)
        assert response.status_code == 201, response.text
        data = response.json()
        client = self.client_for(data["token"])
        return Account(data["user"]["id"], name, data["token"], client, data["user"])

    def client_for(self, token: str) -> httpx.Client:
        """Return a client that sends `token` as its bearer token."""
        client = httpx.Client(base_url=self.url, timeout=10,
                              headers={"Authorization": f"Bearer {token}"})
        self.clients.append(client)
        return client

    def close(self) -> None:
        for client in self.clients:
            client.close()


@pytest.fixture(scope="module")
def api_db(pg_server: PgServer, schema_template: str) -> Iterator[str]:
    """A migrated, empty database for one test module's API server."""
    with copy_of(pg_server, schema_template, "api") as name:
        yield name


@contextlib.contextmanager
def running_api(dsn: str, **settings: Any) -> Iterator[Api]:
    """Serve the API on `dsn` and yield a client for it; stop both afterwards."""
    server = serve(dsn, **settings)
    client = Api(server.url)
    try:
        yield client
    finally:
        client.close()
        server.stop()


@pytest.fixture(scope="module")
def api(pg_server: PgServer, api_db: str) -> Iterator[Api]:
    """The API on an empty database; tests register the users they need."""
    with running_api(pg_server.url(api_db)) as client:
        yield client
