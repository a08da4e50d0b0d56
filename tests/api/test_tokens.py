"""Tokens that end (issue 27, item 16): expiry, log out, rotation, and a per-worker cache
that forgets revoked tokens in time and evicts one entry when full, not all."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from lab.api.tokens import TokenCache
from lab.pg.server import PgServer
from tests.api.conftest import Api, running_api


def test_logging_out_ends_the_token_at_once(api: Api) -> None:
    user = api.register("lo")
    assert user.http.get("/me").status_code == 200          # checked, and remembered
    assert user.http.delete("/me/token").status_code == 204
    refused = user.http.get("/me")
    assert refused.status_code == 401 and "revoked" in refused.json()["detail"]
    assert user.http.delete("/me/token").status_code == 401


def test_a_rotated_token_replaces_the_old_one(api: Api) -> None:
    user = api.register("ro")
    assert user.http.get("/me").status_code == 200
    rotated = user.http.post("/me/token")
    assert rotated.status_code == 201, rotated.text
    expires = datetime.fromisoformat(rotated.json()["expires_at"])
    assert timedelta(days=29) < expires - datetime.now(UTC) <= timedelta(days=30)
    assert user.http.get("/me").status_code == 401
    fresh = api.client_for(rotated.json()["token"])
    assert fresh.get("/me").json()["id"] == user.id


def test_a_token_expires(pg_server: PgServer, api_db: str) -> None:
    with running_api(pg_server.url(api_db), token_ttl_s=60) as api:
        user = api.register("ex")
        assert user.http.get("/me").status_code == 200
        with pg_server.connect(api_db) as conn:      # a minute passes for this token
            conn.execute("UPDATE api_tokens SET expires_at = now() - interval '1 s' "
                         "WHERE user_id = %s", (user.id,))
            conn.commit()
        # Trusted no longer than LAB_TOKEN_CACHE_S (10 s) by the worker that checked it.
        assert user.http.get("/me").status_code in (200, 401)
    with running_api(pg_server.url(api_db), token_cache_s=0) as api:
        assert api.client_for(user.token).get("/me").status_code == 401


def test_another_worker_forgets_a_revoked_token_within_the_cache_time(
        pg_server: PgServer, api_db: str) -> None:
    with running_api(pg_server.url(api_db), token_cache_s=1) as one, \
            running_api(pg_server.url(api_db), token_cache_s=1) as other:
        user = one.register("rv")
        elsewhere = other.client_for(user.token)
        assert elsewhere.get("/me").status_code == 200
        assert user.http.delete("/me/token").status_code == 204
        time.sleep(1.2)
        assert elsewhere.get("/me").status_code == 401


def test_a_full_cache_evicts_its_least_recently_used_entry() -> None:
    cache = TokenCache(ttl_s=60, max_entries=2)
    later = datetime.now(UTC) + timedelta(days=1)
    cache.put(b"a", 1, later)
    cache.put(b"b", 2, later)
    assert cache.get(b"a") == 1          # a is now the most recently used
    cache.put(b"c", 3, later)
    assert (cache.get(b"a"), cache.get(b"b"), cache.get(b"c")) == (1, None, 3)


def test_a_cache_entry_ends_with_its_token() -> None:
    cache = TokenCache(ttl_s=60)
    cache.put(b"soon", 1, datetime.now(UTC) + timedelta(seconds=0.2))
    assert cache.get(b"soon") == 1
    time.sleep(0.3)
    assert cache.get(b"soon") is None and b"soon" not in cache.entries
