"""One module per resource; each exports `router`."""

from __future__ import annotations

import json
from typing import Any

from fastapi.responses import JSONResponse

from lab.api.cursors import CursorSeal
from lab.api.errors import ApiError


class RawJSON(JSONResponse):
    """A response whose body is JSON already built (by PostgreSQL), sent as is.

    A JSONResponse so FastAPI documents the route's model as its schema (for any
    other response class it declares the body a plain string).
    """

    def render(self, content: Any) -> bytes:
        return bytes(content)


def raw_json(body: bytes | None, status_code: int = 200, missing: str = "not found") -> RawJSON:
    """Wrap JSON bytes; None (no row) is a 404 with `missing` as the message."""
    if body is None:
        raise ApiError(404, "not_found", missing)
    return RawJSON(body, status_code=status_code)


def page_response(row: tuple[Any, ...] | None, seal: CursorSeal, context: str) -> RawJSON:
    """A tweet page from its statement's row (the page's JSON, and where a page cut short
    by its scan budget continues): as built, or with that continuation sealed as its
    next_cursor (it may be a hidden tweet's position)."""
    if row is None:
        raise ApiError(404, "not_found", "not found")
    body, resume_ts, resume_id = row
    if resume_ts is None:
        return RawJSON(body)
    page = json.loads(body)
    page["next_cursor"] = seal.seal(resume_ts, resume_id, context)
    return RawJSON(json.dumps(page, separators=(",", ":")).encode())


def documented(model: type, status_code: int = 200, **more: Any) -> dict[str, Any]:
    """Route options for a raw-JSON route whose body follows `model` in the OpenAPI schema."""
    return {"response_class": RawJSON, "status_code": status_code,
            "responses": {status_code: {"model": model}, **more}}
