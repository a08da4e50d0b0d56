"""Registration, authentication and profiles over real HTTP."""

from __future__ import annotations

from lab.api.models import RegisterOut, UserOut
from tests.api.conftest import Api


def test_register_returns_profile_and_token(api: Api) -> None:
    response = api.anonymous.post("/users", json={
        "username": "Registrant1", "email": "reg1@example.com", "display_name": "Reg",
        "bio": "hello", "is_protected": True, "reply_policy": "following"})
    assert response.status_code == 201
    body = RegisterOut.model_validate_json(response.content)
    assert body.user.username == "Registrant1" and body.user.is_protected
    assert body.user.reply_policy == "following" and len(body.token) >= 40
    assert "email" not in response.json()["user"]  # never shown publicly


def test_username_taken_case_insensitively_is_409(api: Api) -> None:
    first = api.register("dup")
    response = api.anonymous.post("/users", json={
        "username": first.username.upper(), "email": "other@example.com", "display_name": "x"})
    assert response.status_code == 409
    assert response.json()["field"] == "username"


def test_email_taken_is_409(api: Api) -> None:
    first = api.register("mail")
    response = api.anonymous.post("/users", json={
        "username": "othername", "email": f"{first.username.upper()}@EXAMPLE.com",
        "display_name": "x"})
    assert response.status_code == 409 and response.json()["field"] == "email"


def test_invalid_registrations_name_the_field(api: Api) -> None:
    cases = {
        "username": {"username": "has space", "email": "a@b.c", "display_name": "x"},
        "email": {"username": "okname", "email": "not-an-email", "display_name": "x"},
        "display_name": {"username": "okname2", "email": "c@d.e", "display_name": "x" * 51},
        "bio": {"username": "okname3", "email": "e@f.g", "display_name": "x", "bio": "b" * 161},
        "is_protected": {"username": "okname4", "email": "g@h.i", "display_name": "x",
                         "is_protected": "sometimes"},
        "nickname": {"username": "okname5", "email": "i@j.k", "display_name": "x",
                     "nickname": "extra"},
    }
    for field, body in cases.items():
        response = api.anonymous.post("/users", json=body)
        assert response.status_code == 422, (field, response.text)
        body = response.json()
        assert body["code"] == "invalid" and body["field"] in body["detail"]
        assert field in {problem["field"] for problem in body["errors"]}, (field, body)


def test_injection_strings_are_stored_verbatim(api: Api) -> None:
    evil = "'); DROP TABLE users; --"
    account = api.register("inj", bio=evil)
    assert api.anonymous.get(f"/users/{account.id}").json()["bio"] == evil


def test_profiles_by_id_and_username(api: Api) -> None:
    account = api.register("prof")
    by_id = api.anonymous.get(f"/users/{account.id}")
    by_name = api.anonymous.get(f"/users/by-username/{account.username.upper()}")
    assert by_id.status_code == by_name.status_code == 200
    assert UserOut.model_validate_json(by_id.content) == UserOut.model_validate_json(
        by_name.content)
    assert api.anonymous.get("/users/999999999").status_code == 404
    assert api.anonymous.get("/users/by-username/nobody_here").status_code == 404
    assert api.anonymous.get("/users/0").status_code == 422
    assert api.anonymous.get("/users/99999999999999999999").status_code == 422


def test_me_needs_a_valid_token(api: Api) -> None:
    account = api.register("me")
    assert account.http.get("/me").json()["id"] == account.id
    missing = api.anonymous.get("/me")
    assert missing.status_code == 401 and missing.headers["www-authenticate"] == "Bearer"
    bad = api.anonymous.get("/me", headers={"Authorization": "Bearer not-a-token"})
    assert bad.status_code == 401


def test_update_own_profile(api: Api) -> None:
    account = api.register("upd")
    response = account.http.patch("/me", json={"display_name": "New Name", "bio": "changed"})
    assert response.status_code == 200
    assert (response.json()["display_name"], response.json()["bio"]) == ("New Name", "changed")
    assert account.http.patch("/me", json={"username": "steal"}).status_code == 422
    assert account.http.patch("/me", json={"reply_policy": "nobody"}).status_code == 422


def test_going_public_accepts_pending_requests(api: Api) -> None:
    owner = api.register("pub", is_protected=True)
    fan = api.register("fan")
    assert fan.http.put(f"/users/{owner.id}/follow").json() == {"result": "requested"}
    assert owner.http.patch("/me", json={"is_protected": False}).json()["followers_count"] == 1
    assert fan.http.put(f"/users/{owner.id}/follow").json() == {"result": "already_following"}


def test_a_nul_character_is_a_422_naming_the_field_not_a_500(api: Api) -> None:
    """PostgreSQL text cannot hold NUL; found by the schema fuzzer as a 500."""
    body = {"username": "nulname", "email": "n@u.l", "display_name": "a\u0000b"}
    response = api.anonymous.post("/users", json=body)
    assert response.status_code == 422 and response.json()["field"] == "display_name"
    by_name = api.anonymous.get("/users/by-username/a%00b")
    assert by_name.status_code == 422 and by_name.json()["code"] == "invalid"
