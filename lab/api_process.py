"""Run `lab serve` in a process of its own, for benchmarks and load runs."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from lab.errors import LabError
from lab.pg.server import PgServer

STARTUP_TIMEOUT_S = 60
SHUTDOWN_TIMEOUT_S = 20


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def api_process(server: PgServer, database: str, strategy: str, port: int,
                env: dict[str, str], workers: int = 1,
                log_path: Path | None = None) -> Iterator[subprocess.Popen[bytes]]:
    """Serve `database` with `strategy` on 127.0.0.1:`port` until the block ends.

    Yields the process once /health answers 200. Its output goes to
    `log_path` (or is discarded): a pipe nobody reads would stall a busy
    server once it fills.
    """
    log = log_path.open("ab") if log_path else None
    process = subprocess.Popen(
        [sys.executable, "-m", "lab.cli", "serve", "--port", str(port), "--database", database,
         "--db", server.url(), "--strategy", strategy, "--workers", str(workers)],
        env=env, stdout=log or subprocess.DEVNULL, stderr=log or subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while True:
            if process.poll() is not None:
                detail = log_path.read_text()[-400:] if log_path else ""
                raise LabError(f"lab serve exited with status {process.returncode}: {detail}")
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise LabError(f"lab serve did not answer /health within {STARTUP_TIMEOUT_S} s")
            time.sleep(0.2)
        yield process
    finally:
        stop_process(process)
        if log:
            log.close()


def stop_process(process: subprocess.Popen[bytes]) -> None:
    """Ask a process to stop (SIGINT, like Ctrl-C), then kill it if it lingers."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=SHUTDOWN_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
