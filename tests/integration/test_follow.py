"""The follower graph changes atomically: both tables, both counters, or nothing."""

from __future__ import annotations

import threading

import psycopg
import pytest

from lab.pg.server import PgServer
from tests.integration.conftest import call, uid


def graph(conn: psycopg.Connection) -> tuple[set, set, dict]:
    following = set(conn.execute("SELECT follower_id, followee_id FROM following").fetchall())
    followers = set(conn.execute("SELECT follower_id, followee_id FROM followers").fetchall())
    counts = {row[0]: (row[1], row[2]) for row in conn.execute(
        "SELECT username, following_count, followers_count FROM users")}
    return following, followers, counts


def test_follow_updates_both_tables_and_both_counters(conn: psycopg.Connection) -> None:
    alice, bob = uid(conn, "alice"), uid(conn, "bob")
    assert call(conn, "follow", alice, bob) == "followed"
    following, followers, counts = graph(conn)
    assert following == followers == {(alice, bob)}
    assert counts["alice"] == (1, 0) and counts["bob"] == (0, 1)


def test_unfollow_reverts_both_tables_and_both_counters(conn: psycopg.Connection) -> None:
    alice, bob = uid(conn, "alice"), uid(conn, "bob")
    call(conn, "follow", alice, bob)
    assert call(conn, "unfollow", alice, bob) == "unfollowed"
    following, followers, counts = graph(conn)
    assert following == followers == set()
    assert counts["alice"] == counts["bob"] == (0, 0)


def test_following_twice_is_idempotent(conn: psycopg.Connection) -> None:
    alice, bob = uid(conn, "alice"), uid(conn, "bob")
    call(conn, "follow", alice, bob)
    assert call(conn, "follow", alice, bob) == "already_following"
    assert graph(conn)[2]["bob"] == (0, 1)


def test_unfollowing_a_stranger_changes_nothing(conn: psycopg.Connection) -> None:
    alice, bob = uid(conn, "alice"), uid(conn, "bob")
    before = graph(conn)
    assert call(conn, "unfollow", alice, bob) == "not_following"
    assert graph(conn) == before


def test_following_yourself_is_an_error(conn: psycopg.Connection) -> None:
    alice = uid(conn, "alice")
    with pytest.raises(psycopg.errors.InvalidParameterValue, match="cannot follow themselves"):
        call(conn, "follow", alice, alice)


def test_following_a_missing_user_is_an_error(conn: psycopg.Connection) -> None:
    with pytest.raises(psycopg.errors.NoDataFound, match="no such user"):
        call(conn, "follow", uid(conn, "alice"), 987654321)


def test_a_failure_half_way_leaves_no_trace(conn: psycopg.Connection) -> None:
    """Make the second table refuse the row: the first table's insert must vanish too."""
    alice, bob = uid(conn, "alice"), uid(conn, "bob")
    conn.execute(f"ALTER TABLE followers ADD CONSTRAINT injected_failure "
                 f"CHECK (follower_id <> {alice})")
    before = graph(conn)
    with pytest.raises(psycopg.errors.CheckViolation, match="injected_failure"):
        call(conn, "follow", alice, bob)
    assert graph(conn) == before


def test_the_database_refuses_a_half_written_edge(conn: psycopg.Connection) -> None:
    """Bypassing follow(): a commit with a row in one table only fails (deferred mirror keys)."""
    alice, bob = uid(conn, "alice"), uid(conn, "bob")
    with pytest.raises(psycopg.errors.ForeignKeyViolation, match="mirrored"):
        conn.execute("INSERT INTO following (follower_id, followee_id) VALUES (%s, %s)",
                     (alice, bob))
    assert graph(conn)[0] == set()


def test_protected_account_gets_a_request_then_approves(conn: psycopg.Connection) -> None:
    alice, carol = uid(conn, "alice"), uid(conn, "carol")
    assert call(conn, "follow", alice, carol) == "requested"
    assert call(conn, "follow", alice, carol) == "already_requested"
    assert graph(conn)[0] == set()
    assert call(conn, "decide_follow_request", carol, alice, True) == "approved"
    following, followers, counts = graph(conn)
    assert following == followers == {(alice, carol)}
    assert counts["carol"] == (0, 1)
    assert conn.execute("SELECT count(*) FROM follow_requests").fetchone() == (0,)
    assert call(conn, "decide_follow_request", carol, alice, True) == "no_request"


def test_denied_and_withdrawn_requests_leave_no_edge(conn: psycopg.Connection) -> None:
    alice, bob, carol = uid(conn, "alice"), uid(conn, "bob"), uid(conn, "carol")
    call(conn, "follow", alice, carol)
    call(conn, "follow", bob, carol)
    assert call(conn, "decide_follow_request", carol, alice, False) == "denied"
    assert call(conn, "unfollow", bob, carol) == "request_withdrawn"
    following, _, counts = graph(conn)
    assert following == set() and counts["carol"] == (0, 0)
    assert conn.execute("SELECT count(*) FROM follow_requests").fetchone() == (0,)


def test_crossing_follows_do_not_deadlock(pg_server: PgServer, fresh_db: str,
                                          conn: psycopg.Connection) -> None:
    """A->B and B->A, toggled concurrently many times: every call succeeds, counters exact."""
    alice, bob = uid(conn, "alice"), uid(conn, "bob")
    errors: list[BaseException] = []

    def toggle(me: int, other: int) -> None:
        try:
            with pg_server.connect(fresh_db, autocommit=True) as own:
                for _ in range(100):
                    call(own, "follow", me, other)
                    call(own, "unfollow", me, other)
                call(own, "follow", me, other)
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=toggle, args=pair) for pair in ((alice, bob), (bob, alice))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    following, followers, counts = graph(conn)
    assert following == followers == {(alice, bob), (bob, alice)}
    assert counts["alice"] == counts["bob"] == (1, 1)
