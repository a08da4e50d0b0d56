"""Each worker's memory of which token is whose: bounded in size and in time.

Authentication would cost every request a round trip; remembering token →
user saves it, but a token can now be revoked (`DELETE /me/token`, a
rotation) or expire. An entry is trusted for at most `ttl_s` and never past
its token's expiry; revoking drops it from the revoking worker at once, and
other workers forget it within `ttl_s`. A full cache evicts its least
recently used entry, not everything (a client cycling through valid tokens
cannot make every other user pay a round trip again).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from datetime import datetime

TOKEN_CACHE_MAX = 100_000


class TokenCache:
    """digest → (user id, wall-clock time the entry stops being trusted), in LRU order."""

    def __init__(self, ttl_s: float, max_entries: int = TOKEN_CACHE_MAX) -> None:
        self.ttl_s, self.max_entries = ttl_s, max_entries
        self.entries: OrderedDict[bytes, tuple[int, float]] = OrderedDict()

    def get(self, digest: bytes) -> int | None:
        entry = self.entries.get(digest)
        if entry is None:
            return None
        user_id, until = entry
        if time.time() >= until:
            del self.entries[digest]
            return None
        self.entries.move_to_end(digest)
        return user_id

    def put(self, digest: bytes, user_id: int, expires_at: datetime) -> None:
        self.entries[digest] = (user_id, min(time.time() + self.ttl_s, expires_at.timestamp()))
        self.entries.move_to_end(digest)
        while len(self.entries) > self.max_entries:
            self.entries.popitem(last=False)

    def discard(self, digest: bytes) -> None:
        self.entries.pop(digest, None)
