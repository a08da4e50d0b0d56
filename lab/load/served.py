"""The API under load, as `lab.targets` chose it: started here, or checked at its URL.

An API the lab starts serves the run's fresh copy on a loopback port and is
sampled as a local process. An API at a URL was started by someone else on
the database named with `--db`: before any load the lab checks that it
answers, serves the run's strategy and that very database (a token the lab
wrote there must be accepted); it is then observed through its /stats (pool,
CPU, memory, loop lag, GC pauses).
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

import lab
from lab.api_process import api_process
from lab.errors import LabError, first_line
from lab.load.credentials import write_credentials
from lab.load.database import RunDatabase
from lab.processes import free_port
from lab.progress import Say
from lab.runfolder import API_LOG, CREDENTIALS_FILE, SAMPLES_DIR
from lab.targets import Target

CHECK_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class ServedApi:
    """The API Locust is pointed at, and what the run knows of it."""

    host: str
    process: subprocess.Popen[bytes] | None   # None: not the lab's (observed via /stats)
    credentials: Path                         # the tokens file Locust reads
    env: dict[str, str]                       # the environment Locust runs with too

    @property
    def remote(self) -> bool:
        return self.process is None


def check_target(target: Target, database: RunDatabase, strategy: str, say: Say) -> None:
    """Fail before the load unless a target elsewhere answers as the lab's API, serves
    `strategy`, and accepts a token the lab wrote in the run database (nothing to check for
    the API the lab starts)."""
    if target.url is None:
        return
    url, probe = target.url, database.credentials["users"][0]
    say(f"  checking the target {url}: the lab's API, strategy {strategy}, this database")
    try:
        with httpx.Client(base_url=url, timeout=CHECK_TIMEOUT_S) as http:
            health = http.get("/health")
            if health.status_code != 200:
                raise LabError(f"the target {url} answered /health with {health.status_code}: "
                               "it is not ready (is its database up?)")
            stats = http.get("/stats").json()
            me = http.get("/me", headers={"Authorization": f"Bearer {probe['token']}"})
    except httpx.HTTPError as exc:
        raise LabError(f"the target {url} cannot be reached: {first_line(exc)}") from exc
    except ValueError:
        raise LabError(f"the target {url} has no lab /stats: is it `lab serve`?") from None
    if not isinstance(stats, dict) or "strategy" not in stats or "pool" not in stats:
        raise LabError(f"the target {url} has no lab /stats: is it `lab serve`?")
    if stats["strategy"] != strategy:
        raise LabError(f"the target {url} serves home timelines with {stats['strategy']}, the "
                       f"run says {strategy}: run with --strategy {stats['strategy']} (the "
                       "audit and the visibility lag depend on it)")
    if me.status_code != 200 or me.json().get("id") != probe["id"]:
        raise LabError(f"the target {url} does not serve the database given with --db: a "
                       f"token the lab wrote there was answered {me.status_code}")
    if stats.get("version") != lab.__version__:
        say(f"  note: the target runs lab {stats.get('version')}, this lab is "
            f"{lab.__version__}")
    if "process" not in stats:
        say("  note: the target's /stats tells no process CPU or stalls (an older lab)")


@contextmanager
def served_api(target: Target, database: RunDatabase, strategy: str, api_workers: int,
               folder: Path, say: Say, step: str = "") -> Iterator[ServedApi]:
    """Write the tokens for Locust, then serve the run database (a target elsewhere was
    checked before: `check_target`); remove the tokens file afterwards: its tokens die with
    the run."""
    path = folder / CREDENTIALS_FILE
    write_credentials(path, database.credentials)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    try:
        if target.url is not None:
            say(f"{step}API at {target.url} (not started by the lab; strategy {strategy})")
            yield ServedApi(target.url, None, path, env)
            return
        port = free_port()
        host = f"http://127.0.0.1:{port}"
        # Each API worker writes its loop lag and GC pauses beside the samples.
        env["LAB_OBSERVE_DIR"] = str(folder / SAMPLES_DIR)
        say(f"{step}API on {host} (strategy {strategy}, {api_workers} worker(s))")
        with api_process(database.server, database.name, strategy, port, env, api_workers,
                         folder / API_LOG) as process:
            yield ServedApi(host, process, path, env)
    finally:
        path.unlink(missing_ok=True)
