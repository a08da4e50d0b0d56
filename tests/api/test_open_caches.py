"""Caches kept for active readers only (issue 30, item 3; migration 0016): a closed cache
gets no fan-out, reads by pull, and is opened by its reader's first push read, without
missing a post that races with the opening."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from lab.api.headers import TIMELINE_CACHE
from lab.integrity import run_checks
from lab.pg.server import PgServer
from tests.api.conftest import Account, running_api
from tests.conftest import copy_of


@pytest.fixture
def database(pg_server: PgServer, schema_template: str) -> Iterator[str]:
    with copy_of(pg_server, schema_template, "open") as name:
        yield name


def close(pg_server: PgServer, database: str, *readers: Account) -> None:
    with pg_server.connect(database) as conn:
        for reader in readers:
            conn.execute("SELECT close_home_timeline(%s)", (reader.id,))
        conn.commit()


def cached(pg_server: PgServer, database: str, reader: Account) -> int:
    with pg_server.connect(database) as conn:
        row = conn.execute("SELECT count(*) FROM home_timeline WHERE user_id = %s",
                           (reader.id,)).fetchone()
    assert row is not None
    return int(row[0])


def read(reader: Account) -> tuple[list[str], str | None]:
    page = reader.http.get("/timeline/home", params={"limit": 50})
    assert page.status_code == 200, page.text
    return [t["body"] for t in page.json()["tweets"]], page.headers.get(TIMELINE_CACHE)


def test_a_closed_cache_gets_no_fanout_reads_by_pull_and_opens_on_the_first_read(
        pg_server: PgServer, database: str) -> None:
    with running_api(pg_server.url(database), timeline_strategy="push") as api:
        author, late, reader = api.register("oa"), api.register("ol"), api.register("or")
        assert reader.http.put(f"/users/{author.id}/follow").status_code == 200
        close(pg_server, database, reader)
        assert author.http.post("/tweets", json={"body": "while closed"}).status_code == 201
        assert late.http.post("/tweets", json={"body": "before the follow"}).status_code == 201
        assert reader.http.put(f"/users/{late.id}/follow").status_code == 200
        assert reader.http.post("/tweets", json={"body": "my own"}).status_code == 201
        assert cached(pg_server, database, reader) == 0     # no fan-out, no backfill, no own
        assert read(reader) == (["my own", "before the follow", "while closed"], "opened")
        assert cached(pg_server, database, reader) == 3
        assert read(reader) == (["my own", "before the follow", "while closed"], None)
        assert author.http.post("/tweets", json={"body": "once open"}).status_code == 201
        assert cached(pg_server, database, reader) == 4     # fanned out again
        assert read(reader)[0][0] == "once open"
    with pg_server.connect(database) as conn:
        assert [r.name for r in run_checks(conn, "push") if r.violations] == []


def test_with_every_open_slot_busy_a_closed_cache_is_read_by_pull_and_stays_closed(
        pg_server: PgServer, database: str) -> None:
    with running_api(pg_server.url(database), timeline_strategy="push") as api:
        author, reader = api.register("sa"), api.register("sr")
        assert reader.http.put(f"/users/{author.id}/follow").status_code == 200
        assert author.http.post("/tweets", json={"body": "busy"}).status_code == 201
        close(pg_server, database, reader)
        with pg_server.connect(database) as other:
            slots = other.execute("SELECT open_slots()").fetchone()
            assert slots is not None
            for slot in range(1, slots[0] + 1):
                other.execute("SELECT pg_advisory_xact_lock(hashtext('open_home_timeline'), %s)",
                              (slot,))
            assert read(reader) == (["busy"], "closed")
            assert cached(pg_server, database, reader) == 0
        assert read(reader) == (["busy"], "opened")     # the slots are free again


def test_pull_reads_a_closed_cache_without_opening_it(pg_server: PgServer,
                                                      database: str) -> None:
    with running_api(pg_server.url(database), timeline_strategy="pull") as api:
        author, reader = api.register("pa"), api.register("pr")
        assert reader.http.put(f"/users/{author.id}/follow").status_code == 200
        assert author.http.post("/tweets", json={"body": "pulled"}).status_code == 201
        close(pg_server, database, reader)
        assert read(reader) == (["pulled"], None)
    assert cached(pg_server, database, reader) == 0


def test_opening_while_followees_post_misses_no_post(pg_server: PgServer,
                                                     database: str) -> None:
    """Twenty closed readers open their caches while four followees post: every post
    committed is in every cache above its floor (the audit's missing-entries check)."""
    with running_api(pg_server.url(database), timeline_strategy="push") as api:
        authors = [api.register(f"ra{i}") for i in range(4)]
        readers = [api.register(f"rr{i}") for i in range(20)]
        for reader in readers:
            for author in authors:
                assert reader.http.put(f"/users/{author.id}/follow").status_code == 200
        close(pg_server, database, *readers)

        def posts(author: Account) -> int:
            return sum(author.http.post("/tweets", json={"body": f"p{n}"}).status_code == 201
                       for n in range(25))

        def opens(reader: Account) -> str | None:
            """Read until this reader's read opens the cache (slots may be busy)."""
            for _ in range(100):
                cache = read(reader)[1]
                if cache != "closed":
                    return cache
            return None

        with ThreadPoolExecutor(max_workers=8) as pool:
            posted = [pool.submit(posts, author) for author in authors]
            opened = list(pool.map(opens, readers))
            assert sum(f.result() for f in posted) == 100
        assert opened == ["opened"] * 20
    with pg_server.connect(database) as conn:
        assert {r.name: r.violations for r in run_checks(conn, "push") if r.violations} == {}
    assert {cached(pg_server, database, r) for r in readers} == {100}
