"""Encode numpy columns as PostgreSQL binary COPY rows.

Fixed-width, non-null columns are laid out as one numpy structured array
and turned into bytes in a single call; only text and nullable columns cost
per-row Python work. The format is described in the PostgreSQL manual,
"COPY: Binary Format": a header, then per row an int16 field count and per
field an int32 length (-1 for NULL) followed by the value in network order.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

HEADER = b"PGCOPY\n\xff\r\n\x00" + bytes(8)  # signature, flags, header extension length
TRAILER = b"\xff\xff"
NULL = b"\xff\xff\xff\xff"

FIXED_TYPES = {"int8": ">i8", "int4": ">i4", "bool": "?", "timestamptz": ">i8"}


@dataclass(frozen=True)
class Fixed:
    """A non-null fixed-width column; timestamptz values are µs since 2000-01-01 UTC."""

    values: np.ndarray
    pg_type: str


@dataclass(frozen=True)
class Variable:
    """Per-row field bytes, length prefix included (see `text_field`, `nullable_int8`)."""

    fields: Sequence[bytes]


Column = Fixed | Variable


def text_field(value: str) -> bytes:
    """Return one text field (length prefix + UTF-8)."""
    data = value.encode()
    return len(data).to_bytes(4, "big", signed=True) + data


def nullable_int8(values: np.ndarray, null: int = -1) -> Variable:
    """Encode an int64 column where `null` stands for SQL NULL."""
    fields = _split(_fixed_block([Fixed(values, "int8")], len(values), with_count=False), 12)
    return Variable([NULL if is_null else field
                     for field, is_null in zip(fields, (values == null).tolist(), strict=True)])


def encode_rows(columns: Sequence[Column]) -> bytes:
    """Return the binary COPY rows (no header or trailer) for equally long columns."""
    rows = row_count(columns)
    pieces: list[Sequence[bytes]] = []
    run: list[Fixed] = []
    first = True
    for column in columns:
        if isinstance(column, Fixed):
            run.append(column)
            continue
        if run or first:
            pieces.append(_as_rows(_fixed_block(run, rows, first, len(columns)), run, first))
            run, first = [], False
        pieces.append(column.fields)
    if run or first:
        block = _fixed_block(run, rows, first, len(columns))
        if not pieces:
            return block  # all columns fixed: already laid out row by row
        pieces.append(_as_rows(block, run, first))
    return b"".join(itertools.chain.from_iterable(zip(*pieces, strict=True)))


def row_count(columns: Sequence[Column]) -> int:
    """Return the common length of the columns (they must agree)."""
    lengths = {len(c.values) if isinstance(c, Fixed) else len(c.fields) for c in columns}
    if len(lengths) != 1:
        raise ValueError(f"columns differ in length: {sorted(lengths)}")
    return lengths.pop()


def _fixed_block(run: Sequence[Fixed], rows: int, with_count: bool,
                 field_count: int = 0) -> bytes:
    fields: list[tuple[str, str]] = [("count", ">i2")] if with_count else []
    for i, column in enumerate(run):
        fields += [(f"len{i}", ">i4"), (f"val{i}", FIXED_TYPES[column.pg_type])]
    block = np.empty(rows, dtype=np.dtype(fields))
    if with_count:
        block["count"] = field_count
    for i, column in enumerate(run):
        block[f"len{i}"] = np.dtype(FIXED_TYPES[column.pg_type]).itemsize
        block[f"val{i}"] = column.values
    return block.tobytes()


def _as_rows(block: bytes, run: Sequence[Fixed], with_count: bool) -> list[bytes]:
    width = (2 if with_count else 0) + sum(
        4 + np.dtype(FIXED_TYPES[c.pg_type]).itemsize for c in run)
    return _split(block, width)


def _split(block: bytes, width: int) -> list[bytes]:
    return [block[i:i + width] for i in range(0, len(block), width)]
