"""Follow, unfollow, follow requests and the follower lists over real HTTP."""

from __future__ import annotations

from lab.api.models import UserPage
from tests.api.conftest import Api


def counts(api: Api, user_id: int) -> tuple[int, int]:
    body = api.anonymous.get(f"/users/{user_id}").json()
    return body["following_count"], body["followers_count"]


def test_follow_and_unfollow_are_idempotent(api: Api) -> None:
    a, b = api.register("fa"), api.register("fb")
    assert a.http.put(f"/users/{b.id}/follow").json() == {"result": "followed"}
    assert a.http.put(f"/users/{b.id}/follow").json() == {"result": "already_following"}
    assert counts(api, a.id) == (1, 0) and counts(api, b.id) == (0, 1)
    assert a.http.delete(f"/users/{b.id}/follow").json() == {"result": "unfollowed"}
    assert a.http.delete(f"/users/{b.id}/follow").json() == {"result": "not_following"}
    assert counts(api, a.id) == (0, 0) and counts(api, b.id) == (0, 0)


def test_follow_errors(api: Api) -> None:
    a = api.register("fe")
    self_follow = a.http.put(f"/users/{a.id}/follow")
    assert self_follow.status_code == 422 and "themselves" in self_follow.json()["detail"]
    assert a.http.put("/users/987654321/follow").status_code == 404
    assert api.anonymous.put(f"/users/{a.id}/follow").status_code == 401


def test_protected_account_requests(api: Api) -> None:
    owner = api.register("po", is_protected=True)
    fans = [api.register("pf") for _ in range(3)]
    for fan in fans:
        assert fan.http.put(f"/users/{owner.id}/follow").json() == {"result": "requested"}
    pending = UserPage.model_validate_json(owner.http.get("/me/follow-requests").content)
    assert sorted(u.id for u in pending.users) == sorted(f.id for f in fans)
    approve = owner.http.post(f"/me/follow-requests/{fans[0].id}/approve")
    assert approve.json() == {"result": "approved"}
    assert owner.http.post(f"/me/follow-requests/{fans[1].id}/deny").json() == {"result": "denied"}
    assert fans[2].http.delete(f"/users/{owner.id}/follow").json() == {
        "result": "request_withdrawn"}
    assert owner.http.post(f"/me/follow-requests/{fans[1].id}/approve").json() == {
        "result": "no_request"}
    assert counts(api, owner.id) == (0, 1)
    assert owner.http.get("/me/follow-requests").json()["users"] == []
    # Nobody can decide someone else's requests: the route only ever acts on "me".
    stranger = api.register("ps")
    fans[1].http.put(f"/users/{owner.id}/follow")
    assert stranger.http.post(f"/me/follow-requests/{fans[1].id}/approve").json() == {
        "result": "no_request"}
    assert counts(api, owner.id) == (0, 1)


def test_lists_paginate_without_gaps_or_duplicates(api: Api) -> None:
    star = api.register("star")
    fans = [api.register("fl") for _ in range(7)]
    for fan in fans:
        fan.http.put(f"/users/{star.id}/follow")
    seen: list[int] = []
    cursor: str | None = None
    while True:
        params = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        page = UserPage.model_validate_json(
            api.anonymous.get(f"/users/{star.id}/followers", params=params).content)
        seen += [u.id for u in page.users]
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert seen == sorted(f.id for f in fans)
    following = api.anonymous.get(f"/users/{fans[0].id}/following").json()
    assert [u["id"] for u in following["users"]] == [star.id]


def test_page_sizes_are_bounded(api: Api) -> None:
    a = api.register("pg")
    for limit in (0, -1, 101, 10**30, "many"):
        response = api.anonymous.get(f"/users/{a.id}/followers", params={"limit": limit})
        assert response.status_code == 422, limit
    assert api.anonymous.get(f"/users/{a.id}/followers",
                             params={"cursor": -5}).status_code == 422


def test_protected_lists_are_hidden_from_strangers(api: Api) -> None:
    owner = api.register("hl", is_protected=True)
    stranger = api.register("hs")
    assert stranger.http.get(f"/users/{owner.id}/followers").status_code == 403
    assert api.anonymous.get(f"/users/{owner.id}/following").status_code == 403
    assert owner.http.get(f"/users/{owner.id}/followers").status_code == 200
