"""Request and response models: validation of input, and the OpenAPI schema of output.

Hot routes return the JSON PostgreSQL builds (user_json, tweet_json) without
passing through these response models; the models document that JSON, and a
test checks real responses against them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from lab.queries import MAX_ID


class Strict(BaseModel):
    """Unknown fields are an error, not silently ignored; each value has one JSON type (a
    boolean is true or false, not "yes"; an id is a number, not true); text holds no NUL
    character (PostgreSQL text cannot store one: refused here with the field's name, not
    at the database)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    @field_validator("*")
    @classmethod
    def no_nul(cls, value: Any) -> Any:
        if isinstance(value, str) and "\x00" in value:
            raise ValueError("must not contain the NUL character (\\u0000)")
        return value


class RegisterIn(Strict):
    username: str = Field(pattern=r"^[A-Za-z0-9_]{1,15}$",
                          description="1-15 letters, digits or underscores; case-insensitive.")
    email: str = Field(min_length=3, max_length=254, pattern=r"^[^@\s]+@[^@\s]+$")
    display_name: str = Field(min_length=1, max_length=50)
    bio: str = Field("", max_length=160)
    is_protected: bool = False
    reply_policy: Literal["everyone", "following"] = "everyone"


class ProfileUpdate(Strict):
    display_name: str | None = Field(None, min_length=1, max_length=50)
    bio: str | None = Field(None, max_length=160)
    is_protected: bool | None = None
    reply_policy: Literal["everyone", "following"] | None = None


class UserOut(BaseModel):
    id: int
    username: str
    display_name: str
    bio: str
    is_protected: bool
    reply_policy: Literal["everyone", "following"]
    followers_count: int
    following_count: int
    tweet_count: int
    created_at: datetime


class RegisterOut(BaseModel):
    user: UserOut
    token: str = Field(description="Bearer token; shown once, stored only as a hash.")


class TokenOut(BaseModel):
    token: str = Field(description="The new bearer token; the one used to ask ends now.")
    expires_at: datetime = Field(description="After this the new token authenticates nobody.")


class UserPage(BaseModel):
    users: list[UserOut]
    next_cursor: str | None


class TweetIn(Strict):
    body: str = Field(min_length=1, max_length=280)
    reply_to_tweet_id: int | None = Field(None, ge=1, le=MAX_ID)
    quote_tweet_id: int | None = Field(None, ge=1, le=MAX_ID)

    @model_validator(mode="after")
    def reply_or_quote(self) -> TweetIn:
        """Both would store one and drop the other silently: refused, naming the pair."""
        if self.reply_to_tweet_id is not None and self.quote_tweet_id is not None:
            raise ValueError("a tweet is a reply or a quote, not both: give reply_to_tweet_id "
                             "or quote_tweet_id")
        return self


class TweetOut(BaseModel):
    id: int
    user_id: int
    body: str | None = Field(description="None for a retweet.")
    reply_to_tweet_id: int | None
    original_tweet_id: int | None = Field(description="The retweeted or quoted tweet.")
    like_count: int
    retweet_count: int
    quote_count: int
    reply_count: int
    created_at: datetime


class PostOut(BaseModel):
    tweet: TweetOut
    created: bool = Field(description="False when the retweet already existed.")


class TweetPage(BaseModel):
    tweets: list[TweetOut]
    next_cursor: str | None


class FollowOut(BaseModel):
    result: Literal["followed", "already_following", "requested", "already_requested",
                    "unfollowed", "request_withdrawn", "not_following", "removed"]


class DecisionOut(BaseModel):
    result: Literal["approved", "denied", "no_request"]


class ChangedOut(BaseModel):
    changed: bool = Field(description="False when the state already was as asked.")


class Health(BaseModel):
    status: Literal["ok"]


class ProcessStats(BaseModel):
    pid: int
    ts: float = Field(description="When this answer was made, seconds since the epoch.")
    cpu_s: float = Field(description="CPU seconds this worker used, user and system.")
    rss_mb: float


class Stats(BaseModel):
    version: str
    strategy: str
    fanout_mode: Literal["inline", "queue"]
    fanout: dict[str, float] = Field(description="Background deliveries and their lag.")
    pool: dict[str, int]
    retries: dict[str, int] = Field(
        description="Deadlocks and serialization failures this worker retried (each attempt "
                    "that failed, the last included when it reached the client).")
    process: ProcessStats
    stalls: list[dict[str, float | int | str]] = Field(
        description="This worker's last seconds of event-loop lag and GC pauses, one entry a "
                    "second (ts, process, loop_lag_max_ms, loop_lag_total_ms, gc_pause_ms, "
                    "gc_collections).")


class FieldProblem(BaseModel):
    field: str
    message: str


class ErrorOut(BaseModel):
    """Every error the API answers: a message, a stable code, the field at fault, and for
    invalid requests each field's problem."""

    detail: str
    code: str
    field: str | None = None
    errors: list[FieldProblem] | None = None


# Documented on every route: what any status besides the route's own may carry.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    "default": {"model": ErrorOut,
                "description": "An error: 401 no or bad token, 403 not allowed, 404 not found "
                               "or not visible, 409 conflict, 413 body too large, 422 invalid "
                               "value, 503 database unavailable (with Retry-After)."}}

