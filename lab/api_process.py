"""Run `lab serve` in a process of its own, for benchmarks, load runs and experiments."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from lab.pg.server import PgServer
from lab.processes import child_process, wait_for_http

STARTUP_TIMEOUT_S = 60


@contextmanager
def api_process(server: PgServer, database: str, strategy: str, port: int,
                env: dict[str, str], workers: int = 1,
                log_path: Path | None = None) -> Iterator[subprocess.Popen[bytes]]:
    """Serve `database` with `strategy` on 127.0.0.1:`port` until the block ends.

    Yields the process once /health answers 200. Its output goes to
    `log_path` (or is discarded): a pipe nobody reads would stall a busy
    server once it fills.
    """
    argv = [sys.executable, "-m", "lab.cli", "serve", "--port", str(port), "--database",
            database, "--db", server.url(), "--strategy", strategy, "--workers", str(workers)]
    with child_process(argv, log_path or Path("/dev/null"), env) as process:
        wait_for_http(f"http://127.0.0.1:{port}/health", lambda: process.poll() is None,
                      STARTUP_TIMEOUT_S, "lab serve", log_path)
        yield process
