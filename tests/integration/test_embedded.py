"""The embedded server's lifecycle: start, stop, restart, stale pid files, double start."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from lab.errors import LabError
from lab.pg.embedded import EmbeddedPostgres, process_alive
from tests.conftest import free_port

pytestmark = pytest.mark.embedded
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def embedded() -> Iterator[EmbeddedPostgres]:
    folder = ROOT / ".lab" / f"lifecycle-{uuid.uuid4().hex[:8]}"
    server = EmbeddedPostgres(folder / "pgdata", free_port())
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)


def answers(server: EmbeddedPostgres) -> bool:
    with server.server().connect() as conn:
        return conn.execute("SELECT 1").fetchone() == (1,)


def test_start_stop_start_keeps_data(embedded: EmbeddedPostgres) -> None:
    assert embedded.start() is True
    assert embedded.server().server_version().startswith("18")
    with embedded.server().connect(autocommit=True) as conn:
        conn.execute("CREATE TABLE kept (x int)")
        conn.execute("INSERT INTO kept VALUES (42)")
    pid = embedded.status().pid
    assert embedded.stop() is True
    assert pid is not None and not process_alive(pid)
    assert embedded.status().running is False
    assert embedded.start() is True
    with embedded.server().connect() as conn:
        assert conn.execute("SELECT x FROM kept").fetchone() == (42,)


def test_second_start_is_harmless(embedded: EmbeddedPostgres) -> None:
    assert embedded.start() is True
    pid = embedded.status().pid
    assert embedded.start() is False
    assert embedded.status().pid == pid and answers(embedded)


def test_stop_when_stopped_says_so(embedded: EmbeddedPostgres) -> None:
    assert embedded.stop() is False


def test_stop_leaves_no_server_process(embedded: EmbeddedPostgres) -> None:
    embedded.start()
    pid = embedded.status().pid
    assert pid is not None
    family = [pid, *(child.pid for child in psutil.Process(pid).children(recursive=True))]
    assert len(family) > 1  # the postmaster and its background workers
    embedded.stop()
    assert [p for p in family if process_alive(p)] == []


@pytest.mark.parametrize("owner", ["dead process", "unrelated live process"])
def test_stale_pid_file_is_handled(embedded: EmbeddedPostgres, owner: str) -> None:
    embedded.start()
    embedded.stop()
    if owner == "dead process":
        finished = subprocess.Popen(["true"])
        finished.wait()
        stale_pid = finished.pid
    else:
        stale_pid = os.getpid()
    (embedded.pgdata / "postmaster.pid").write_text(f"{stale_pid}\n{embedded.pgdata}\n")
    assert embedded.status().running is False
    assert embedded.start() is True
    assert answers(embedded)


def test_a_taken_port_is_a_clear_error(embedded: EmbeddedPostgres) -> None:
    with socket_listening() as port:
        embedded.port = port
        with pytest.raises(LabError, match=f"port {port} on 127.0.0.1 is taken.*LAB_PG_PORT"):
            embedded.start()


@contextlib.contextmanager
def socket_listening() -> Iterator[int]:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield int(sock.getsockname()[1])


def test_config_is_applied(embedded: EmbeddedPostgres) -> None:
    embedded.start()
    with embedded.server().connect() as conn:
        settings = dict(conn.execute(
            "SELECT name, setting FROM pg_settings WHERE name IN "
            "('max_connections', 'shared_preload_libraries', 'fsync', 'synchronous_commit', "
            "'listen_addresses')").fetchall())
    assert int(settings["max_connections"]) >= 1100
    assert "pg_stat_statements" in settings["shared_preload_libraries"]
    assert settings["fsync"] == "on" and settings["synchronous_commit"] == "on"
    assert settings["listen_addresses"] == "127.0.0.1"


def test_lab_db_commands(embedded: EmbeddedPostgres) -> None:
    """`lab db start|status|url|stop` as a user types them, on a data folder of its own."""
    env = {**os.environ, "LAB_PGDATA": str(embedded.pgdata), "LAB_PG_PORT": str(embedded.port)}

    def lab(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "lab.cli", "db", *args], env=env,
                              text=True, capture_output=True, timeout=120)

    assert lab("status").returncode == 3
    first = lab("start")
    assert first.returncode == 0 and "PostgreSQL 18" in first.stdout and "started" in first.stdout
    assert "already running" in lab("start").stdout
    running = lab("status")
    assert running.returncode == 0 and f"port {embedded.port}" in running.stdout
    assert lab("url").stdout.strip() == f"postgresql://postgres@127.0.0.1:{embedded.port}/timeline_lab"
    assert lab("stop").stdout.strip() == "stopped"
    assert lab("stop").stdout.strip() == "not running"
    assert lab("status").returncode == 3
