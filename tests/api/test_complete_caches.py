"""Caches that stay complete (issue 27, items 14 and 17), and the audit that finds the
entries missing from them.

Hybrid lost the tweets an author posted while a celebrity once they fell
below the threshold; a database served under pull, then push, read stale
caches; and `lab check` looked only for wrong entries, never for missing
ones. Each test failed before migration 0012.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from lab.caches import prepare_caches
from lab.integrity import run_checks
from lab.pg.server import PgServer
from tests.api.conftest import Account, running_api
from tests.conftest import copy_of

MISSING = "home_timeline entries missing (posts and follows since the caches were complete)"
NOT_FOLLOWED = "home_timeline entries from accounts the owner does not follow"


@pytest.fixture
def database(pg_server: PgServer, schema_template: str) -> Iterator[str]:
    with copy_of(pg_server, schema_template, "caches") as name:
        yield name


def home(reader: Account) -> list[str]:
    page = reader.http.get("/timeline/home", params={"limit": 50})
    assert page.status_code == 200, page.text
    return [t["body"] for t in page.json()["tweets"]]


def post(author: Account, body: str) -> None:
    assert author.http.post("/tweets", json={"body": body}).status_code == 201


def follow(reader: Account, author: Account, result: str = "followed") -> None:
    assert reader.http.put(f"/users/{author.id}/follow").json()["result"] == result


def violations(pg_server: PgServer, database: str, strategy: str) -> dict[str, int]:
    with pg_server.connect(database) as conn:
        return {r.name: r.violations for r in run_checks(conn, strategy) if r.violations}


def test_an_author_below_the_threshold_again_keeps_what_they_posted_as_a_celebrity(
        pg_server: PgServer, database: str) -> None:
    with running_api(pg_server.url(database), timeline_strategy="hybrid",
                     celebrity_followers=2) as api:
        star, *fans = [api.register(f"c{i}") for i in range(5)]
        for fan in fans[:3]:
            follow(fan, star)                  # 3 followers: above the threshold
        post(star, "while famous")             # never fanned out
        follow(fans[3], star)                  # a follow that skipped its backfill
        for fan in fans[2:]:
            assert fan.http.delete(f"/users/{star.id}/follow").status_code == 200
        # 2 followers now: not above the threshold, but still pulled.
        assert home(fans[0]) == ["while famous"] and home(fans[1]) == ["while famous"]
        follow(fans[3], star)
        assert home(fans[3]) == ["while famous"]
        post(star, "famous no more")
        assert home(fans[0]) == ["famous no more", "while famous"]
    assert violations(pg_server, database, "hybrid") == {}
    # The old rule (pulled only while above the threshold) loses them, and the audit says so.
    with pg_server.connect(database) as conn:
        conn.execute("UPDATE users SET timeline_pulled = false")
        conn.commit()
    assert violations(pg_server, database, "hybrid")[MISSING] >= 3


def test_the_audit_finds_an_entry_missing_from_a_cache(pg_server: PgServer,
                                                       database: str) -> None:
    with running_api(pg_server.url(database), timeline_strategy="push") as api:
        author, reader = api.register("ma"), api.register("mr")
        follow(reader, author)
        post(author, "delivered")
    assert violations(pg_server, database, "push") == {}
    with pg_server.connect(database) as conn:
        conn.execute("DELETE FROM home_timeline WHERE user_id = %s", (reader.id,))
        conn.commit()
    assert violations(pg_server, database, "push") == {MISSING: 1}


def prepare(pg_server: PgServer, database: str, strategy: str) -> str | None:
    """prepare_caches as `lab serve` calls it; the strategy the caches were stale after."""
    said: list[str] = []
    with pg_server.connect(database) as conn:
        rebuilt = prepare_caches(conn, strategy, 800, said.append)
    assert bool(said) == (rebuilt is not None)
    return rebuilt.stale_after if rebuilt else None


def test_a_cached_strategy_after_pull_rebuilds_the_caches(pg_server: PgServer,
                                                          database: str) -> None:
    assert prepare(pg_server, database, "push") is None     # an empty database: complete
    with running_api(pg_server.url(database), timeline_strategy="push") as api:
        author, old, reader = api.register("pa"), api.register("po"), api.register("pr")
        follow(reader, old)
        post(old, "before the switch")
    assert prepare(pg_server, database, "pull") is None     # pull never needs the caches
    with running_api(pg_server.url(database), timeline_strategy="pull") as api:
        reader.http = api.client_for(reader.token)
        author.http = api.client_for(author.token)
        assert reader.http.delete(f"/users/{old.id}/follow").status_code == 200
        follow(reader, author)
        post(author, "under pull")
    stale = violations(pg_server, database, "push")
    assert stale[MISSING] >= 2 and stale[NOT_FOLLOWED] == 1
    assert prepare(pg_server, database, "push") == "pull"
    assert violations(pg_server, database, "push") == {}
    with running_api(pg_server.url(database), timeline_strategy="push") as api:
        reader.http = api.client_for(reader.token)
        assert home(reader) == ["under pull"]
    assert prepare(pg_server, database, "hybrid") is None   # complete for hybrid too


def test_push_after_hybrid_pulled_someone_rebuilds_the_caches(pg_server: PgServer,
                                                              database: str) -> None:
    assert prepare(pg_server, database, "hybrid") is None
    with running_api(pg_server.url(database), timeline_strategy="hybrid",
                     celebrity_followers=1) as api:
        star, fan, other = api.register("hs"), api.register("hf"), api.register("ho")
        follow(fan, star)
        follow(other, star)
        post(star, "pulled under hybrid")
    assert prepare(pg_server, database, "push") == "hybrid"
    with running_api(pg_server.url(database), timeline_strategy="push") as api:
        fan.http = api.client_for(fan.token)
        assert home(fan) == ["pulled under hybrid"]
    assert prepare(pg_server, database, "push") is None
