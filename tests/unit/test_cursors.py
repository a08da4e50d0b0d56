"""Sealed page cursors: they round-trip, and nothing else opens them."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from lab.api.cursors import CURSOR_PATTERN, CursorSeal, keyset
from lab.api.errors import ApiError

MOMENT = datetime(2026, 12, 4, 21, 7, 30, 123456, tzinfo=UTC)

def test_a_sealed_position_round_trips_and_reads_as_noise() -> None:
    seal = CursorSeal(b"k" * 32)
    first, second = seal.seal(MOMENT, 30139, "home:7"), seal.seal(MOMENT, 30139, "home:7")
    assert first != second                         # a fresh nonce each time
    assert "30139" not in first and str(int(MOMENT.timestamp())) not in first

    assert re.fullmatch(CURSOR_PATTERN, first)
    assert keyset(first, seal, "home:7") == keyset(second, seal, "home:7")
    assert seal.open(first, "home:7") == (MOMENT, 30139)

@pytest.mark.parametrize("how", ["context", "key", "tampered", "truncated"])
def test_a_sealed_cursor_opens_nowhere_else(how: str) -> None:
    seal = CursorSeal(b"k" * 32)
    cursor = seal.seal(MOMENT, 30139, "home:7")
    opener, context = seal, "home:7"
    if how == "context":
        context = "home:8"
    elif how == "key":
        opener = CursorSeal(b"q" * 32)
    elif how == "tampered":
        cursor = cursor[:10] + ("A" if cursor[10] != "A" else "B") + cursor[11:]
    else:
        cursor = cursor[:-3]
    with pytest.raises(ApiError) as refused:
        keyset(cursor, opener, context)
    assert refused.value.status == 422 and refused.value.field == "cursor"
