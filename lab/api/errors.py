"""Errors as part of the interface: every failure is a JSON body naming the problem.

Database errors raised by the SQL functions carry SQLSTATEs; they are mapped
here, in one place, to HTTP statuses. A database that is gone or a pool with
no free connection is a 503 with Retry-After, never a hang or a 500.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import psycopg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from psycopg import errors as pg_errors
from psycopg_pool import PoolTimeout
from starlette.exceptions import HTTPException

log = logging.getLogger("lab.api")

RETRY_AFTER_S = 1
# Unique indexes and the request field they protect, for 409 bodies.
UNIQUE_FIELDS = {"users_username_ci_key": "username", "users_email_ci_key": "email"}


class ApiError(Exception):
    """An error with an HTTP status, a stable code, a message and optionally a field."""

    def __init__(self, status: int, code: str, message: str, field: str | None = None,
                 headers: dict[str, str] | None = None,
                 problems: list[dict[str, str]] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.field = status, code, message, field
        self.headers, self.problems = headers, problems

    def response(self) -> JSONResponse:
        body: dict[str, object] = {"detail": self.message, "code": self.code}
        if self.field:
            body["field"] = self.field
        if self.problems:
            body["errors"] = self.problems
        return JSONResponse(body, status_code=self.status, headers=self.headers)


REQUEST_PARTS = ("body", "query", "path", "header")


def invalid_request(errors: Sequence[Any]) -> ApiError:
    """FastAPI's validation errors in the API's one error shape: 422, each field and problem.

    The first problem is the message; `errors` lists them all. Inputs are not echoed.
    """
    problems = []
    for error in errors:
        location = [str(part) for part in error.get("loc", ())]
        if location and location[0] in REQUEST_PARTS:
            location = location[1:]
        message = str(error["msg"]).removeprefix("Value error, ")
        if error.get("type") == "json_invalid":
            # Its location is a character offset, not a field.
            message = f"the body is not valid JSON ({message}) at character {location[0]}"
            location = []
        problems.append({"field": ".".join(location) or "body", "message": message})
    if not problems:
        problems = [{"field": "body", "message": "invalid request"}]
    first = problems[0]
    return ApiError(422, "invalid", f"{first['field']}: {first['message']}", first["field"],
                    problems=problems)


def from_framework(request: Request, exc: HTTPException) -> ApiError:
    """The framework's own refusals (no such route, a method not allowed, a body that is
    not JSON at all) in the API's one error shape."""
    route = f"{request.method} {request.url.path}"
    headers = dict(exc.headers or {})
    if exc.status_code == 404:
        return ApiError(404, "not_found", f"no such route: {route}", headers=headers)
    if exc.status_code == 405:
        return ApiError(405, "method_not_allowed", f"{request.method} is not allowed on "
                        f"{request.url.path}", headers=headers)
    if exc.status_code == 400:
        # Not UTF-8, a number too long to read, nesting too deep: the body cannot be parsed.
        return ApiError(400, "invalid", "the body could not be read as JSON (UTF-8, numbers "
                        "of at most 4,300 digits, nesting a few hundred levels deep)", "body")
    return ApiError(exc.status_code, "error", str(exc.detail), headers=headers)


def unavailable(reason: str) -> ApiError:
    return ApiError(503, "unavailable", reason, headers={"Retry-After": str(RETRY_AFTER_S)})


def from_database(exc: psycopg.Error) -> ApiError:
    """Translate a database error into the API error a client should see."""
    message = exc.diag.message_primary or str(exc)
    if isinstance(exc, pg_errors.NoDataFound):
        return ApiError(404, "not_found", message)
    if isinstance(exc, pg_errors.InsufficientPrivilege):
        return ApiError(403, "forbidden", message)
    if isinstance(exc, pg_errors.ProgramLimitExceeded):
        # A documented cap (following, pending requests): the request is well formed, the
        # state forbids it.
        return ApiError(409, "limit", message)
    if isinstance(exc, pg_errors.UniqueViolation):
        field = UNIQUE_FIELDS.get(exc.diag.constraint_name or "")
        return ApiError(409, "conflict", f"{field or 'value'} is already taken", field)
    if isinstance(exc, pg_errors.ForeignKeyViolation):
        # The functions lock what they refer to (migration 0005), so this means a
        # path that does not yet: still the race's answer, not a server fault.
        log.warning("foreign key race: %s", message)
        return ApiError(409, "conflict", "something this request refers to was removed "
                        "meanwhile; retry")
    if isinstance(exc, pg_errors.InvalidParameterValue | pg_errors.CheckViolation
                  | pg_errors.StringDataRightTruncation | pg_errors.NumericValueOutOfRange):
        return ApiError(422, "invalid", message)
    if isinstance(exc, psycopg.OperationalError):
        return unavailable("the database is unavailable")
    if isinstance(exc, psycopg.DataError):
        # SQLSTATE class 22 (data exception), or a value psycopg refuses to send
        # (a NUL character in text): the input's fault, never the server's.
        return ApiError(422, "invalid", message)
    log.exception("unexpected database error", exc_info=exc)
    return ApiError(500, "internal", "unexpected database error")


def install(app: FastAPI) -> None:
    """Register the handlers that turn exceptions into JSON answers."""

    @app.exception_handler(ApiError)
    async def api_error(_: Request, exc: ApiError) -> JSONResponse:
        return exc.response()

    @app.exception_handler(HTTPException)
    async def framework_error(request: Request, exc: HTTPException) -> JSONResponse:
        return from_framework(request, exc).response()

    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        return invalid_request(exc.errors()).response()

    @app.exception_handler(PoolTimeout)
    async def pool_timeout(_: Request, exc: PoolTimeout) -> JSONResponse:
        return unavailable("no database connection became free in time").response()

    @app.exception_handler(psycopg.Error)
    async def database_error(_: Request, exc: psycopg.Error) -> JSONResponse:
        return from_database(exc).response()
