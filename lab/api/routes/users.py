"""Registration and profiles."""

from __future__ import annotations

import json
from typing import Annotated

import psycopg
from fastapi import APIRouter, Path, Request, Response

from lab.api.db import fetch_value, in_transaction
from lab.api.deps import Credentials, Me, Pool, UserPath, token_not_valid
from lab.api.models import ProfileUpdate, RegisterIn, RegisterOut, TokenOut, UserOut
from lab.api.routes import RawJSON, documented, raw_json
from lab.queries import query
from lab.security import new_token, token_hash

router = APIRouter(tags=["users"])


@router.post("/users", name="register_user", **documented(RegisterOut, 201))
async def register_user(request: Request, pool: Pool, user: RegisterIn) -> RawJSON:
    """Create an account; the answer carries its bearer token (shown only this once), valid
    for LAB_TOKEN_TTL_S."""
    token = new_token()
    profile = await fetch_value(pool, "register_user", {
        **user.model_dump(), "token_hash": token_hash(token),
        "token_ttl_s": request.app.state.settings.token_ttl_s})
    body = b'{"user":' + profile + b',"token":"' + token.encode() + b'"}'
    return RawJSON(body, status_code=201)


@router.post("/me/token", name="rotate_token", **documented(TokenOut, 201))
async def rotate_token(request: Request, pool: Pool, user_id: Me,
                       credentials: Credentials) -> RawJSON:
    """Exchange the caller's token for a new one (a fresh lifetime); the old one ends."""
    assert credentials is not None        # Me has authenticated them
    old, token = token_hash(credentials.credentials), new_token()
    expires_at = await fetch_value(pool, "rotate_token", {
        "token_hash": old, "user_id": user_id, "new_token_hash": token_hash(token),
        "token_ttl_s": request.app.state.settings.token_ttl_s})
    request.app.state.token_cache.discard(old)
    if expires_at is None:                # revoked or expired since it was checked
        raise token_not_valid()
    return RawJSON(json.dumps({"token": token, "expires_at": expires_at.isoformat()}).encode(),
                   status_code=201)


@router.delete("/me/token", name="revoke_token", status_code=204)
async def revoke_token(request: Request, pool: Pool, user_id: Me,
                       credentials: Credentials) -> Response:
    """Log out: the caller's token authenticates nobody from now on (other API workers
    forget it within LAB_TOKEN_CACHE_S)."""
    assert credentials is not None
    digest = token_hash(credentials.credentials)
    await fetch_value(pool, "revoke_token", {"token_hash": digest, "user_id": user_id})
    request.app.state.token_cache.discard(digest)
    return Response(status_code=204)


@router.get("/users/{user_id}", name="profile", **documented(UserOut))
async def profile(pool: Pool, user_id: UserPath) -> RawJSON:
    """A public profile (protected accounts show it too, but not their tweets)."""
    return raw_json(await fetch_value(pool, "profile", {"user_id": user_id}),
                    missing="no such user")


@router.get("/users/by-username/{username}", name="profile_by_username", **documented(UserOut))
async def profile_by_username(
        pool: Pool, username: Annotated[str, Path(pattern=r"^[A-Za-z0-9_]{1,15}$")]) -> RawJSON:
    """A public profile by username (case-insensitive)."""
    return raw_json(await fetch_value(pool, "profile_by_username", {"username": username}),
                    missing="no such user")


@router.get("/me", name="me", **documented(UserOut))
async def me(pool: Pool, user_id: Me) -> RawJSON:
    """The caller's own profile."""
    return raw_json(await fetch_value(pool, "profile", {"user_id": user_id}))


@router.patch("/me", name="update_profile", **documented(UserOut))
async def update_profile(pool: Pool, user_id: Me, changes: ProfileUpdate) -> RawJSON:
    """Change one's own settings. Going public accepts the pending follow requests,
    in the same transaction (no public account is ever left with requests), first: it
    locks the owner and every requester in id order before the profile's row."""

    async def update(conn: psycopg.AsyncConnection) -> bytes | None:
        if changes.is_protected is False:
            await conn.execute(query("approve_all_requests"), {"user_id": user_id})
        await conn.execute(query("update_profile"), {**changes.model_dump(), "user_id": user_id})
        cursor = await conn.execute(query("profile"), {"user_id": user_id})
        row = await cursor.fetchone()
        return row[0] if row else None

    return raw_json(await in_transaction(pool, update))
