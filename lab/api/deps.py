"""Dependencies shared by the routes: the pool, the caller, page parameters."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import Depends, Path, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from psycopg_pool import AsyncConnectionPool
from pydantic import BeforeValidator

from lab.api.cursors import CURSOR_PATTERN
from lab.api.db import fetch_row
from lab.api.errors import ApiError
from lab.api.tokens import TokenCache
from lab.queries import MAX_ID
from lab.security import token_hash

MAX_PAGE = 100
DEFAULT_PAGE = 50
# ASCII digits only: a number's text has one spelling ("+1", "1.0", " 1" and other
# scripts' digits are refused, not read as 1).
DIGITS = re.compile(r"[0-9]{1,19}")

bearer = HTTPBearer(auto_error=False, description="The token returned at registration.")


def ascii_digits(value: object) -> object:
    """Refuse a path or query number not written as plain ASCII digits."""
    if isinstance(value, str) and not DIGITS.fullmatch(value):
        raise ValueError("must be a whole number written with the digits 0-9")
    return value


Digits = BeforeValidator(ascii_digits)


async def get_pool(request: Request) -> AsyncConnectionPool:
    """The app's pool. Async on purpose: FastAPI runs a plain `def` dependency in a worker
    thread, and this one is in every request (measured under wrk: the hop was a third of a
    profile request's API CPU, 640 against 430 µs)."""
    return request.app.state.pool  # type: ignore[no-any-return]


Pool = Annotated[AsyncConnectionPool, Depends(get_pool)]
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]


def token_not_valid() -> ApiError:
    """The 401 for a token that authenticates nobody (unknown, expired or revoked)."""
    return ApiError(401, "unauthorized", "the bearer token is not valid (unknown, expired or "
                    "revoked)", headers={"WWW-Authenticate": "Bearer"})


async def optional_user(request: Request, pool: Pool, credentials: Credentials) -> int | None:
    """Return the caller's user id, None when anonymous; 401 for a bad, expired or revoked
    token. Positive answers are remembered for a while per worker (lab.api.tokens)."""
    if credentials is None:
        return None
    digest = token_hash(credentials.credentials)
    cache: TokenCache = request.app.state.token_cache
    user_id = cache.get(digest)
    if user_id is None:
        row = await fetch_row(pool, "authenticate", {"token_hash": digest})
        if row is None:
            raise token_not_valid()
        user_id, expires_at = row
        cache.put(digest, user_id, expires_at)
    return int(user_id)


async def current_user(user_id: Annotated[int | None, Depends(optional_user)]) -> int:
    """Return the caller's user id; 401 when no token was sent."""
    if user_id is None:
        raise ApiError(401, "unauthorized", "this operation needs a bearer token",
                       headers={"WWW-Authenticate": "Bearer"})
    return user_id


Viewer = Annotated[int | None, Depends(optional_user)]
Me = Annotated[int, Depends(current_user)]
Limit = Annotated[int, Query(ge=1, le=MAX_PAGE, description="Page size."), Digits]
Cursor = Annotated[str | None, Query(pattern=CURSOR_PATTERN, max_length=64,
                                     description="next_cursor of the previous page.")]
AfterId = Annotated[int, Query(ge=0, le=MAX_ID, description="next_cursor of the previous page."),
                    Digits]
UserPath = Annotated[int, Path(ge=1, le=MAX_ID, description="A user's id."), Digits]
TweetPath = Annotated[int, Path(ge=1, le=MAX_ID, description="A tweet's id."), Digits]
