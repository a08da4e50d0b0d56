"""The security audit: no write without a valid token, nobody acts as anybody else, tokens
are stored hashed, hostile text and ids are refused or stored inert, the API binds loopback.

(The privacy matrix of read paths is tests/api/test_privacy.py; page caps are in
test_graph.py and test_timeline.py.)
"""

from __future__ import annotations

import hashlib
import inspect

import pytest

from lab.cli.serve import serve
from lab.pg.server import PgServer
from tests.api.conftest import Api


def write_routes(tweet: int, user: int) -> list[tuple[str, str, dict[str, object] | None]]:
    """Every operation that changes state, aimed at real rows."""
    return [
        ("PUT", f"/users/{user}/follow", None), ("DELETE", f"/users/{user}/follow", None),
        ("POST", f"/me/follow-requests/{user}/approve", None),
        ("POST", f"/me/follow-requests/{user}/deny", None),
        ("POST", "/tweets", {"body": "sneaky"}), ("POST", f"/tweets/{tweet}/retweet", None),
        ("DELETE", f"/tweets/{tweet}/retweet", None), ("PUT", f"/tweets/{tweet}/like", None),
        ("DELETE", f"/tweets/{tweet}/like", None), ("DELETE", f"/tweets/{tweet}", None),
        ("PATCH", "/me", {"bio": "owned"}),
    ]


@pytest.mark.parametrize("token", [None, "a", "not-a-token", "Bearer x" * 40, "' OR 1=1 --"])
def test_no_write_without_a_valid_token(api: Api, pg_server: PgServer, api_db: str,
                                        token: str | None) -> None:
    victim = api.register("vi")
    tweet = victim.http.post("/tweets", json={"body": "mine"}).json()["tweet"]["id"]
    headers = {} if token is None else {"Authorization": f"Bearer {token}"}
    for method, path, body in write_routes(tweet, victim.id):
        answer = api.anonymous.request(method, path, json=body, headers=headers)
        assert answer.status_code == 401, (method, path, answer.text)
        assert answer.json()["code"] == "unauthorized"
    assert victim.http.get(f"/tweets/{tweet}").status_code == 200
    assert victim.http.get("/me").json()["bio"] == ""


def test_nobody_acts_for_another_user(api: Api, pg_server: PgServer, api_db: str) -> None:
    owner = api.register("ow", is_protected=True)
    requester, intruder = api.register("rq"), api.register("in")
    assert requester.http.put(f"/users/{owner.id}/follow").json() == {"result": "requested"}
    tweet = owner.http.post("/tweets", json={"body": "owner's"}).json()["tweet"]["id"]
    # Approving a request addressed to someone else finds nothing to approve.
    approve = intruder.http.post(f"/me/follow-requests/{requester.id}/approve")
    assert approve.json() == {"result": "no_request"}
    # Deleting someone else's tweet: not even its existence is confirmed (protected).
    assert intruder.http.delete(f"/tweets/{tweet}").status_code == 404
    # A follower who can see it still may not delete it.
    public = api.register("pb")
    public_tweet = public.http.post("/tweets", json={"body": "public"}).json()["tweet"]["id"]
    refused = intruder.http.delete(f"/tweets/{public_tweet}")
    assert refused.status_code == 403 and refused.json()["code"] == "forbidden"
    # Undoing "a retweet" of a tweet only ever touches the caller's own retweet.
    assert public.http.post(f"/tweets/{public_tweet}/retweet").status_code == 201
    assert intruder.http.delete(f"/tweets/{public_tweet}/retweet").json() == {"changed": False}
    with pg_server.connect(api_db) as conn:
        row = conn.execute(
            "SELECT (SELECT count(*) FROM follow_requests WHERE followee_id = %(o)s),"
            " (SELECT count(*) FROM following WHERE followee_id = %(o)s),"
            " (SELECT count(*) FROM tweets WHERE id IN (%(t)s, %(p)s)),"
            " (SELECT retweet_count FROM tweets WHERE id = %(p)s)",
            {"o": owner.id, "t": tweet, "p": public_tweet}).fetchone()
    assert row == (1, 0, 2, 1)


def test_tokens_are_stored_only_as_their_sha256(api: Api, pg_server: PgServer,
                                                api_db: str) -> None:
    account = api.register("hs")
    with pg_server.connect(api_db) as conn:
        stored = [bytes(r[0]) for r in conn.execute(
            "SELECT token_hash FROM api_tokens WHERE user_id = %s", (account.id,))]
        plain = conn.execute(
            "SELECT count(*) FROM api_tokens WHERE position(convert_to(%s, 'UTF8') IN "
            "token_hash) > 0", (account.token,)).fetchone()
    assert stored == [hashlib.sha256(account.token.encode()).digest()]
    assert plain == (0,)


INJECTIONS = ["'; DROP TABLE users; --", "1 OR 1=1", "\\x00", "$$; SELECT pg_sleep(5); $$",
              "Robert'); DELETE FROM tweets;--"]


@pytest.mark.parametrize("text", INJECTIONS)
def test_hostile_text_is_stored_inert_or_refused(api: Api, pg_server: PgServer, api_db: str,
                                                 text: str) -> None:
    author = api.register("sq")
    posted = author.http.post("/tweets", json={"body": text})
    assert posted.status_code == 201
    assert author.http.get(f"/tweets/{posted.json()['tweet']['id']}").json()["body"] == text
    assert author.http.patch("/me", json={"bio": text}).json()["bio"] == text
    # Usernames allow [A-Za-z0-9_] only: refused, naming the field.
    named = api.anonymous.post("/users", json={"username": text, "email": "x@example.com",
                                               "display_name": "x"})
    assert named.status_code == 422 and named.json()["field"] == "username"
    lookup = api.anonymous.get("/users/by-username/" + text.replace("/", ""))
    assert lookup.status_code in (404, 422)
    cursor = author.http.get("/timeline/home", params={"cursor": text})
    assert cursor.status_code == 422 and cursor.json()["field"] == "cursor"
    with pg_server.connect(api_db) as conn:     # stored as text, the tables intact
        assert conn.execute("SELECT bio FROM users WHERE id = %s",
                            (author.id,)).fetchone() == (text,)


@pytest.mark.parametrize("field,limit", [("body", 280), ("bio", 160), ("display_name", 50)])
def test_oversized_text_is_refused_naming_the_field(api: Api, field: str, limit: int) -> None:
    account = api.register("ov")
    too_long = "x" * (limit + 1)
    if field == "body":
        answer = account.http.post("/tweets", json={"body": too_long})
    else:
        answer = account.http.patch("/me", json={field: too_long})
    assert answer.status_code == 422 and answer.json()["field"] == field
    huge = account.http.post("/tweets", content=b'{"body": "' + b"x" * 200_000 + b'"}',
                             headers={"Content-Type": "application/json"})
    assert huge.status_code == 413


@pytest.mark.parametrize("bad_id", ["1 OR 1=1", "-1", "0", "99999999999999999999999", "1.5",
                                    "%27%3B--"])
def test_hostile_ids_are_refused_or_not_found(api: Api, bad_id: str) -> None:
    account = api.register("id")
    for method, path in (("GET", f"/users/{bad_id}"), ("PUT", f"/users/{bad_id}/follow"),
                         ("PUT", f"/tweets/{bad_id}/like"), ("GET", f"/tweets/{bad_id}"),
                         ("DELETE", f"/tweets/{bad_id}")):
        answer = account.http.request(method, path)
        assert answer.status_code in (404, 422), (method, path, answer.text)
        assert answer.json()["code"] in ("not_found", "invalid")


def test_the_api_binds_to_loopback_by_default() -> None:
    host = inspect.signature(serve).parameters["host"].default
    assert host == "127.0.0.1"
