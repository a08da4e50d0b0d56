"""What the CLI prints: consoles, one-line errors, timed progress lines, progress bars."""

from __future__ import annotations

import re
import signal
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import NoReturn, TypeVar

import psycopg
import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.text import Text

from lab.errors import LabError, first_line
from lab.progress import Reporter, Say
from lab.verdicts import EXIT_ERROR

# Piped output (CI logs, nightly runs) gets wide tables instead of 80 columns.
console = Console(soft_wrap=True, width=None if sys.stdout.isatty() else 160)
err_console = Console(stderr=True, soft_wrap=True)

T = TypeVar("T")
MISSING_DATABASE = re.compile(r'database "([^"]+)" does not exist')


def fail(message: str) -> NoReturn:
    err_console.print(Text("error: ", style="bold red") + Text(message))
    raise typer.Exit(EXIT_ERROR)


def run_action(action: Callable[[], T]) -> T:
    """Turn expected failures into one clean line on stderr and exit status 1.

    LabError is a failure the user can act on; a lost connection is the
    server's doing, not a bug. Anything else keeps its traceback.
    """
    try:
        return action()
    except LabError as exc:
        fail(str(exc))
    except psycopg.OperationalError as exc:
        missing = MISSING_DATABASE.search(str(exc))
        if missing:
            fail(f"database {missing.group(1)} does not exist yet: run `lab seed` to create "
                 "and seed it (`make run` seeds a template and throwaway run copies, not the "
                 "working database)")
        fail(f"lost the database: {first_line(exc)}")


def timed_say() -> Say:
    """Progress lines prefixed with the seconds since the command started."""
    started = time.monotonic()

    def say(message: str) -> None:
        console.print(f"[dim]{time.monotonic() - started:6.1f} s[/] {message}")
    return say


class RichReporter(Reporter):
    """Show seeding progress: a bar per table load, a line per finished phase."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.task: TaskID | None = None

    def phase(self, name: str, total_rows: int | None = None) -> None:
        if self.task is not None:
            self.progress.remove_task(self.task)
        self.task = self.progress.add_task(name, total=total_rows)

    def advance(self, rows: int) -> None:
        if self.task is not None:
            self.progress.advance(self.task, rows)

    def done(self, name: str, seconds: float) -> None:
        if seconds >= 0.5:
            self.progress.console.print(f"  {name}: {seconds:.1f} s")


@contextmanager
def progress_bars() -> Iterator[Reporter]:
    """A Reporter drawing row bars on a terminal (and nothing in logs)."""
    progress = Progress(TextColumn("  {task.description}"), BarColumn(),
                        TextColumn("{task.completed:,.0f} rows"), TimeElapsedColumn(),
                        console=console, transient=True, disable=not console.is_terminal)
    with progress:
        yield RichReporter(progress)


@contextmanager
def stop_on_sigterm() -> Iterator[None]:
    """Treat SIGTERM (a CI timeout, `kill`, a container stopping) like Ctrl-C: the work
    unwinds and stops everything it started, instead of leaving it behind."""
    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
