"""Record every request of every Locust process, exactly, into the run folder.

Each process keeps its own SampleRecorder and flushes Parquet chunks every
few seconds; the lab merges them after the test. The master names each test
when it starts (`--lab-test-id`), so tests of one `lab ui` session never mix.
The credentials file is read once per process and test, when the first user
needs it, never at import: master and workers all see the same accounts.
"""

from __future__ import annotations

import os
import random
import time
import uuid
from pathlib import Path
from typing import Any

import gevent
import gevent.event
from locust import events
from locust.env import Environment
from locust.runners import MasterRunner, WorkerRunner

from lab.load.credentials import read_credentials
from lab.load.samples import SampleRecorder, server_timing
from lab.swarm import distributed, stalls

FLUSH_INTERVAL_S = 2.0
DEFAULT_CREDENTIALS = ".lab/credentials.json"


class Process:
    """This Locust process's state for the current test."""

    credentials: dict[str, Any] | None = None
    recorder: SampleRecorder | None = None
    flusher: gevent.Greenlet | None = None
    stopping: gevent.event.Event | None = None
    ticker: gevent.Greenlet | None = None


def option(environment: Environment, name: str, default: str) -> str:
    """A --lab-* option; run_single_user and library use may have no parsed options."""
    value = getattr(environment.parsed_options, name, None)
    return str(value) if value else default


def credentials(environment: Environment) -> dict[str, Any]:
    """Load the run's credentials once per process, when the first user needs them (a
    worker uses the copy its master sent)."""
    if Process.credentials is None and distributed.Worker.credentials is not None:
        Process.credentials = distributed.Worker.credentials
    if Process.credentials is None:
        path = option(environment, "lab_credentials",
                      os.environ.get("LAB_CREDENTIALS", DEFAULT_CREDENTIALS))
        Process.credentials = read_credentials(Path(path))
    return Process.credentials


@events.init_command_line_parser.add_listener
def _lab_options(parser: Any) -> None:
    parser.add_argument("--lab-credentials", default=os.environ.get("LAB_CREDENTIALS", ""),
                        include_in_web_ui=False,
                        help="JSON file of seeded users' tokens (lab credentials / lab run)")
    parser.add_argument("--lab-samples", default=os.environ.get("LAB_SAMPLES", ""),
                        include_in_web_ui=False,
                        help="Folder where every process records every request (Parquet)")
    parser.add_argument("--lab-test-id", default="", include_in_web_ui=False,
                        help="Set by the master at each test start; workers receive it")


@events.test_start.add_listener
def _start_recording(environment: Environment, **_: Any) -> None:
    runner = environment.runner
    options = environment.parsed_options
    if options is not None and not isinstance(runner, WorkerRunner):
        # The master names the test; workers get the name with their spawn orders.
        options.lab_test_id = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) + \
            "-" + uuid.uuid4().hex[:6]
    if isinstance(runner, MasterRunner):
        path = option(environment, "lab_credentials", "")
        if path and Path(path).exists():
            distributed.send_credentials(runner, Path(path).read_text())
        return
    random.seed()  # forked workers would otherwise all draw the same accounts
    Process.credentials = None  # a new test may run against a new database
    samples = option(environment, "lab_samples", "")
    test_id = option(environment, "lab_test_id", "test")
    shipping = distributed.ships() and isinstance(runner, WorkerRunner)
    if not samples and not shipping:
        return
    worker = (f"w{runner.worker_index}_{os.getpid()}" if isinstance(runner, WorkerRunner)
              else f"local_{os.getpid()}")
    folder = (distributed.recording_folder(test_id) if shipping
              else Path(samples) / test_id)
    folder.mkdir(parents=True, exist_ok=True)   # the test has begun: faults count from here
    recorder = Process.recorder = SampleRecorder(folder, worker)
    stopping = Process.stopping = gevent.event.Event()

    def flush_periodically() -> None:
        # The Parquet conversion and write run on a thread of the hub's pool: on the loop
        # they stalled every user of this process for the length of each write.
        while not stopping.wait(FLUSH_INTERVAL_S):
            gevent.get_hub().threadpool.apply(recorder.write, (recorder.take(),))
            if shipping and isinstance(runner, WorkerRunner):
                distributed.ship(runner, test_id)

    Process.flusher = gevent.spawn(flush_periodically)
    Process.ticker = stalls.watch(folder, worker)


@events.test_stop.add_listener
def _stop_recording(environment: Environment, **_: Any) -> None:
    if Process.stopping is not None:
        Process.stopping.set()      # a write in progress finishes before the last one
    if Process.flusher is not None:
        Process.flusher.join()
    if Process.ticker is not None:
        Process.ticker.kill()
    Process.flusher = Process.ticker = Process.stopping = None
    if Process.recorder is not None:
        Process.recorder.close()
        Process.recorder = None
        runner = environment.runner
        if isinstance(runner, WorkerRunner) and distributed.ships():
            distributed.ship(runner, option(environment, "lab_test_id", "test"), last=True)


@events.request.add_listener
def _record(request_type: str, name: str, response_time: float, response_length: int,
            response: Any = None, exception: Any = None, context: Any = None,
            start_time: float | None = None, **_: Any) -> None:
    recorder = Process.recorder
    if recorder is None:
        return
    context = context or {}
    headers = getattr(response, "headers", None)
    recorder.record(name, request_type, start_time or time.time() - response_time / 1000,
                    response_time, int(getattr(response, "status_code", 0) or 0),
                    int(response_length or 0), None if exception is None else str(exception),
                    context.get("persona"), context.get("bucket"), context.get("created_id"),
                    context.get("deleted_id"),
                    server_timing(headers.get("server-timing") if headers else None),
                    (context.get("schedule_lag_ms"), context.get("schedule_wait_ms")))
