"""How long-running work reports progress: lines to show (`Say`) and row counts (`Reporter`).

The CLI shows both with rich; tests and library callers pass silent ones.
Lower layers (the seeder, the run pipeline, the experiments) take these
instead of printing, so they never depend on how the caller displays them.
"""

from __future__ import annotations

from collections.abc import Callable

Say = Callable[[str], None]


def silent(message: str) -> None:
    """A `Say` that shows nothing."""


class Reporter:
    """Receives progress of bulk work (seeding): phases and the rows each has done."""

    def phase(self, name: str, total_rows: int | None = None) -> None:
        """A new phase starts (a table load, an index build)."""

    def advance(self, rows: int) -> None:
        """`rows` more rows of the current phase are done."""

    def done(self, name: str, seconds: float) -> None:
        """The phase `name` finished after `seconds`."""
