"""One module per resource; each exports `router`."""

from __future__ import annotations

from typing import Any

from fastapi.responses import JSONResponse

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


def documented(model: type, status_code: int = 200, **more: Any) -> dict[str, Any]:
    """Route options for a raw-JSON route whose body follows `model` in the OpenAPI schema."""
    return {"response_class": RawJSON, "status_code": status_code,
            "responses": {status_code: {"model": model}, **more}}
