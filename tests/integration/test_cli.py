"""The `lab` command as users run it: a real process against a real server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from lab.pg.databases import drop_database
from lab.pg.server import PgServer
from tests.conftest import unique_name


@pytest.fixture
def lab_env(pg_server: PgServer, seeded_template: str) -> Iterator[dict[str, str]]:
    """Environment pointing `lab` at the test server and a database of this test's own."""
    name = unique_name("cli")
    env = {**os.environ, "LAB_DATABASE_URL": pg_server.display_url(), "LAB_DB_NAME": name,
           }
    yield env
    drop_database(pg_server, name)
    drop_database(pg_server, f"{name}_naive")


def lab(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "lab.cli", *args], env=env, text=True,
                          capture_output=True, timeout=300)


def test_migrate_creates_the_database_then_is_a_no_op(lab_env: dict[str, str]) -> None:
    first = lab(lab_env, "migrate")
    assert first.returncode == 0, first.stderr
    assert "applied 0001_social_graph" in first.stdout
    second = lab(lab_env, "migrate")
    assert second.returncode == 0 and "schema up to date" in second.stdout


def test_seed_then_explain_the_timeline(lab_env: dict[str, str], tmp_path: Path) -> None:
    seeded = lab(lab_env, "seed", "--scale", "tiny", "--seed", "42", "--reports",
                 str(tmp_path))
    assert seeded.returncode == 0, seeded.stderr
    assert "reusing template timeline_lab_tpl_tiny_42_" in seeded.stdout
    assert "power readers (follow ≥ 1000)" in seeded.stdout
    # The graph beside the published one, on its own page listed in the index.
    assert "published 22.1%" in seeded.stdout
    [graph] = list(tmp_path.glob("*_graph_tiny"))
    assert "Kwak" in (graph / "index.html").read_text()
    assert json.loads((graph / "graph.json").read_text())["graph"]["edges"] > 0
    assert graph.name in (tmp_path / "index.html").read_text()
    explained = lab(lab_env, "explain", "home_timeline_seed", "--reports", str(tmp_path))
    assert explained.returncode == 0, explained.stderr
    assert "on tweets t" in explained.stdout and "actual" in explained.stdout
    assert "follows" in explained.stdout
    pages = list(tmp_path.glob("explain-*_push/index.html"))
    assert len(pages) == 1 and "home_timeline_seed" in pages[0].read_text()
    assert str(pages[0]) in explained.stdout.replace("\n", "")


def test_naive_variant_goes_to_its_own_database(lab_env: dict[str, str],
                                                pg_server: PgServer) -> None:
    result = lab(lab_env, "migrate", "--variant", "naive")
    assert result.returncode == 0, result.stderr
    with pg_server.connect(lab_env["LAB_DB_NAME"] + "_naive") as conn:
        tables = {row[0] for row in conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}
    assert tables == {"users", "tweets", "follows", "likes"}


def test_bad_input_is_one_clear_line(lab_env: dict[str, str]) -> None:
    result = lab(lab_env, "seed", "--scale", "huge")
    assert result.returncode == 1
    assert "unknown scale 'huge'" in result.stderr and "tiny, small, medium, large" in result.stderr
    assert "Traceback" not in result.stderr


def test_unknown_strategy_is_refused(lab_env: dict[str, str]) -> None:
    result = lab(lab_env, "serve", "--strategy", "teleport")
    assert result.returncode == 1 and "use pull, push or hybrid" in result.stderr


def test_unknown_variant_names_the_choices(lab_env: dict[str, str]) -> None:
    result = lab(lab_env, "migrate", "--variant", "nosuch")
    assert result.returncode == 1 and "available: naive" in result.stderr


def test_unreachable_server_fails_fast(lab_env: dict[str, str]) -> None:
    env = {**lab_env, "LAB_DATABASE_URL": "postgresql://postgres@127.0.0.1:9/postgres"}
    result = lab(env, "migrate")
    assert result.returncode == 1 and "cannot reach PostgreSQL" in result.stderr


def test_refuses_databases_it_does_not_own(lab_env: dict[str, str]) -> None:
    result = lab(lab_env, "migrate", "--database", "postgres")
    assert result.returncode == 1 and "refusing to touch database 'postgres'" in result.stderr


def test_long_errors_are_not_wrapped(lab_env: dict[str, str]) -> None:
    env = {**lab_env, "LAB_DATABASE_URL": "postgresql://postgres@127.0.0.1:9/postgres",
           "COLUMNS": "40"}
    result = lab(env, "migrate")
    assert len(result.stderr.strip().splitlines()) == 1


def test_error_text_is_printed_verbatim(lab_env: dict[str, str], pg_server: PgServer) -> None:
    """Brackets in a message (a list of versions) are text, not console markup."""
    assert lab(lab_env, "migrate").returncode == 0
    with pg_server.connect(lab_env["LAB_DB_NAME"]) as conn:
        conn.execute("INSERT INTO schema_migrations (version, name, checksum) "
                     "VALUES (9999, 'future', 'x')")
        conn.commit()
    result = lab(lab_env, "migrate")
    assert result.returncode == 1
    assert "does not know: [9999]" in result.stderr


def test_lab_serve_answers_and_stops(lab_env: dict[str, str], pg_server: PgServer) -> None:
    """`lab serve` as a user runs it: a real process, a real port, then SIGTERM."""
    import signal
    import socket
    import time

    import httpx

    from tests.conftest import free_port

    assert lab(lab_env, "migrate").returncode == 0
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "lab.cli", "serve", "--port", str(port),
                                "--strategy", "push"],
                               env={**lab_env, "LAB_HEAD_TIMEOUT_S": "1"}, text=True,
                               stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, process.communicate()
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "lab serve did not answer"
            time.sleep(0.2)
        registered = httpx.post(f"http://127.0.0.1:{port}/users", json={
            "username": "served", "email": "s@example.com", "display_name": "S"})
        assert registered.status_code == 201
        assert httpx.get(f"http://127.0.0.1:{port}/stats").json()["strategy"] == "push"
        # Served with the bounded protocol, its head timeout from the environment.
        with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
            conn.sendall(b"NOT-HTTP\r\n\r\n")
            assert b"application/json" in conn.recv(4096)
        with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
            started = time.monotonic()
            conn.sendall(b"GET /health HTTP/1.1\r\n")
            assert conn.recv(4096).startswith(b"HTTP/1.1 408")
            assert time.monotonic() - started < 5
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=20)


def test_lab_check_exits_2_on_damage_and_names_the_check(lab_env: dict[str, str],
                                                       pg_server: PgServer) -> None:
    assert lab(lab_env, "seed", "--scale", "tiny").returncode == 0
    clean = lab(lab_env, "check")
    assert clean.returncode == 0, clean.stdout + clean.stderr
    with pg_server.connect(lab_env["LAB_DB_NAME"]) as conn:
        conn.execute("UPDATE users SET followers_count = followers_count + 1 "
                     "WHERE id = (SELECT min(id) FROM users)")
        conn.commit()
    damaged = lab(lab_env, "check")
    assert damaged.returncode == 2, damaged.stdout + damaged.stderr
    line = next(x for x in damaged.stdout.splitlines()
                if "users.followers_count differs from followers rows" in x)
    assert "│ 1 " in line or " 1 │" in line


@pytest.mark.parametrize("command", [["check"], ["credentials"], ["explain"],
                                     ["bench", "api", "--seconds", "1"]])
def test_a_working_database_never_seeded_names_the_next_step(
        lab_env: dict[str, str], command: list[str]) -> None:
    """Right after `make run` the working database does not exist (it seeds a template and
    throwaway run copies): nothing was lost, and the error says what to do."""
    done = lab(lab_env, *command)
    assert done.returncode == 1, done.stdout + done.stderr
    assert f"database {lab_env['LAB_DB_NAME']} does not exist yet: run `lab seed`" in \
        done.stderr
    assert "lost the database" not in done.stderr
