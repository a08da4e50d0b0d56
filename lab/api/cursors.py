"""Page cursors: a returned tweet's position in the clear, anything else sealed.

A page's `next_cursor` is normally its last tweet's (created_at, id), which
the viewer has just seen. A page cut short by its scan budget (lab/queries.sql,
migration 0014) must continue after the last candidate it read, and that may
be a tweet the viewer may not see: its position would tell when it was
posted. That cursor is sealed: encrypted and authenticated (HMAC-SHA256 as a
keystream and as a tag, standard library only) under the server's key, and
bound to the route and the viewer it was issued to, so it reads as noise, is
refused when altered, and serves no one else.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import struct
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from lab.api.errors import ApiError
from lab.queries import END_OF_TIME, MAX_ID, START_OF_TIME

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# A returned tweet's position (microseconds since the epoch, id), or a sealed one.
CURSOR_PATTERN = r"^([0-9]{1,19}_[0-9]{1,19}|s[A-Za-z0-9_-]{40,60})$"
SEALED = "s"
NONCE_BYTES = 8
TAG_BYTES = 16
POSITION = struct.Struct(">qq")        # microseconds since the epoch, tweet id


class CursorSeal:
    """Seals and opens continuation positions with one key (all of a server's workers
    share it: `lab serve` hands one to each, or LAB_CURSOR_KEY names it)."""

    def __init__(self, key: bytes) -> None:
        self.key = key

    def _prf(self, *parts: bytes) -> bytes:
        return hmac.new(self.key, b"\0".join(parts), hashlib.sha256).digest()

    def seal(self, ts: datetime, tweet_id: int, context: str) -> str:
        micros = (ts - EPOCH) // timedelta(microseconds=1)
        nonce = os.urandom(NONCE_BYTES)
        stream = self._prf(b"stream", nonce)[:POSITION.size]
        cipher = bytes(a ^ b for a, b in zip(POSITION.pack(micros, tweet_id), stream,
                                             strict=True))
        tag = self._prf(b"tag", context.encode(), nonce, cipher)[:TAG_BYTES]
        return SEALED + base64.urlsafe_b64encode(nonce + cipher + tag).decode().rstrip("=")

    def open(self, cursor: str, context: str) -> tuple[datetime, int]:
        """The position a sealed cursor holds; 422 if it was altered or issued elsewhere."""
        body = cursor[len(SEALED):]
        try:
            raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
        except (binascii.Error, ValueError):
            raw = b""
        if len(raw) != NONCE_BYTES + POSITION.size + TAG_BYTES:
            raise invalid()
        nonce, cipher, tag = (raw[:NONCE_BYTES], raw[NONCE_BYTES:-TAG_BYTES],
                              raw[-TAG_BYTES:])
        if not hmac.compare_digest(tag, self._prf(b"tag", context.encode(), nonce,
                                                  cipher)[:TAG_BYTES]):
            raise invalid()
        stream = self._prf(b"stream", nonce)[:POSITION.size]
        micros, tweet_id = POSITION.unpack(bytes(a ^ b for a, b in zip(cipher, stream,
                                                                      strict=True)))
        return EPOCH + timedelta(microseconds=micros), tweet_id


def invalid() -> ApiError:
    return ApiError(422, "invalid", "cursor is not valid here: pass back a next_cursor this "
                    "server gave for this page, unchanged", "cursor")


@dataclass(frozen=True)
class Keyset:
    """A position in (created_at, id) order."""

    ts: datetime
    id: int


def keyset(cursor: str | None, seal: CursorSeal, context: str,
           newest_first: bool = True) -> Keyset:
    """Decode a page cursor (plain or sealed for `context`); without one, the position
    before the first row."""
    if cursor is None:
        return Keyset(END_OF_TIME, MAX_ID) if newest_first else Keyset(START_OF_TIME, 0)
    if cursor.startswith(SEALED):
        return Keyset(*seal.open(cursor, context))
    micros, _, row_id = cursor.partition("_")
    try:
        return Keyset(EPOCH + timedelta(microseconds=int(micros)), int(row_id))
    except OverflowError:
        raise ApiError(422, "invalid", "cursor is out of range", "cursor") from None
