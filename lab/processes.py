"""Child processes the lab starts: ports, start and stop, waiting for HTTP, Locust's command line.

Everything the lab starts binds to 127.0.0.1, is stopped by the lab (SIGINT
first, like Ctrl-C, then SIGKILL), and leaves no descendant behind.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import psutil

from lab.errors import LabError

SHUTDOWN_TIMEOUT_S = 20
# Set in a Locust worker that shares no file system with its master (lab.swarm.distributed).
SHIP_SAMPLES_ENV = "LAB_SHIP_SAMPLES"
POLL_S = 0.2


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


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


def kill_descendants(marker: str) -> None:
    """Kill this process's descendants whose command line holds `marker` (forked workers)."""
    for child in psutil.Process().children(recursive=True):
        try:
            if marker in " ".join(child.cmdline()):
                child.kill()
        except psutil.Error:
            continue


@contextmanager
def child_process(argv: list[str], log: Path, env: dict[str, str], cwd: Path | None = None,
                  marker: str | None = None) -> Iterator[subprocess.Popen[bytes]]:
    """Run `argv` (output appended to `log`) until the block ends, then stop it and,
    with `marker`, every descendant it forked whose command line holds the marker."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        # No stdin: the lab never types into its children. Inherited from a pipe that never
        # ends (a pytest-xdist worker's), it kept Locust's workers from joining their master.
        process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out,
                                   stderr=subprocess.STDOUT, env=env, cwd=cwd)
        try:
            yield process
        finally:
            stop_process(process)
            if marker:
                kill_descendants(marker)


def wait_for_http(url: str, alive: Callable[[], bool], timeout_s: float, what: str,
                  log: Path | None = None) -> None:
    """Wait until `url` answers 200; fail at once when the process serving it exits."""
    deadline = time.monotonic() + timeout_s
    while True:
        if not alive():
            detail = f": {log.read_text(errors='replace')[-400:]}" if log and log.exists() else ""
            raise LabError(f"{what} exited before it answered at {url}{detail}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise LabError(f"{what} did not answer at {url} within {timeout_s:.0f} s")
        time.sleep(POLL_S)


def locust_command(locustfiles: list[Path], host: str, users: int, spawn_rate: float,
                   credentials: Path, samples: Path, workers: int, mode: list[str],
                   master: tuple[str, int] | None = None, workers_wait_s: int = 0
                   ) -> list[str]:
    """The exact `locust` invocation (recorded in the summary, runnable by hand).

    `mode` is `headless_options(...)` or `web_options(...)`. With `master` (host, port) the
    workers are not forked here: the master listens there and waits up to `workers_wait_s`
    for `workers` of them (`lab worker`), on this machine or others.
    """
    argv = [sys.executable, "-m", "locust", "-f", ",".join(str(f) for f in locustfiles),
            "--host", host, "--users", str(users), "--spawn-rate", str(spawn_rate),
            "--loglevel", "WARNING", "--lab-credentials", str(credentials),
            "--lab-samples", str(samples), *mode]
    if master is not None:
        argv += ["--master", "--master-bind-host", master[0], "--master-bind-port",
                 str(master[1]), "--expect-workers", str(workers),
                 "--expect-workers-max-wait", str(workers_wait_s)]
    elif workers:
        # A port of this run's own: the forked workers join it, and another run with workers
        # on this machine (Locust's default is 5557 for everyone) cannot take it.
        port = str(free_port())
        argv += ["--processes", str(workers), "--master-bind-host", "127.0.0.1",
                 "--master-bind-port", port, "--master-port", port]
    return argv


def headless_options(run_time_s: int, csv_prefix: Path, html: Path, stats_json: Path
                     ) -> list[str]:
    """Run for `run_time_s`, then write Locust's own CSV, HTML and JSON statistics."""
    return ["--headless", "--run-time", f"{run_time_s}s", "--stop-timeout", "5",
            "--csv", str(csv_prefix), "--html", str(html),
            "--json-file", str(stats_json.with_suffix(""))]


def worker_command(master_host: str, master_port: int, processes: int
                   ) -> tuple[list[str], dict[str, str]]:
    """`locust --worker` joining a master elsewhere, and its environment: it fetches the
    locustfiles from the master (`-f -`) and ships its samples to it (SHIP_SAMPLES_ENV)."""
    argv = [sys.executable, "-m", "locust", "--worker", "--master-host", master_host,
            "--master-port", str(master_port), "-f", "-", "--loglevel", "WARNING"]
    if processes > 1:
        argv += ["--processes", str(processes)]
    return argv, {**os.environ, "PYTHONUNBUFFERED": "1", SHIP_SAMPLES_ENV: "1"}


# Where Locust's /stats/requests answer (extended by lab.swarm.live_tab) carries the users
# and spawn rate of the test as started in the web UI's form.
TYPED_LOAD_KEY = "lab_typed_load"


def web_options(port: int) -> list[str]:
    """Serve Locust's web UI on 127.0.0.1:`port` and wait for someone to press Start."""
    return ["--web-host", "127.0.0.1", "--web-port", str(port)]
