"""A run's Locust workers on other machines: no shared file system, nothing lost at the end.

- The master sends each test's credentials to every worker (`lab_credentials`)
  before it sends the spawn orders, so a worker needs no copy of the file.
- A worker started by `lab worker` (SHIP_SAMPLES_ENV set) records into a folder of its
  own and sends every new byte of its files to the master after each flush
  (`lab_samples`); the master writes them into the run's samples folder, so
  the merge sees the same chunks, stall series and `.done` markers as from a
  local worker.
- When the test stops, the master asks every worker still alive to stop its
  users and send what is left (`lab_finish`), and waits, bounded, for each
  one's `lab_finished`: Locust itself only waits half a second for its
  workers' last words, which would cut a remote worker's last chunk.
- Joins, workers gone missing (no heartbeat) and finishes are noted in
  `<samples>/workers.jsonl`, which `lab run` shows as they happen.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import gevent
from locust import events
from locust.env import Environment
from locust.runners import STATE_MISSING, MasterRunner, WorkerRunner

from lab.load.workers import WORKERS_LOG
from lab.processes import SHIP_SAMPLES_ENV

FINISH_GRACE_S = 30.0       # beyond --stop-timeout, for the last bytes to arrive
WATCH_INTERVAL_S = 1.0


class Worker:
    """This worker's state: the credentials the master sent, what was shipped."""

    credentials: dict[str, Any] | None = None
    folder: Path | None = None           # the local folder a shipping worker records into
    sent: dict[str, int] = {}


class Master:
    """The master's state: the workers that joined, missed heartbeats and finished."""

    samples: Path | None = None
    finished: set[str] = set()
    noted_missing: set[str] = set()


def ships() -> bool:
    """True in a worker that shares no file system with its master (`lab worker`)."""
    return os.environ.get(SHIP_SAMPLES_ENV) == "1"


def note(event: str, worker: str, **detail: Any) -> None:
    """One line of workers.jsonl (master only)."""
    if Master.samples is None:
        return
    Master.samples.mkdir(parents=True, exist_ok=True)
    with (Master.samples / WORKERS_LOG).open("a") as out:
        out.write(json.dumps({"ts": time.time(), "event": event, "worker": worker,
                              **detail}) + "\n")


# -- worker side --------------------------------------------------------------------------

def recording_folder(test_id: str) -> Path:
    """Where a shipping worker records this test (its own temporary folder, removed once
    the test's last bytes are sent)."""
    Worker.folder = Path(tempfile.mkdtemp(prefix="lab-worker-")) / test_id
    Worker.folder.mkdir()
    Worker.sent = {}
    return Worker.folder


def ship(runner: WorkerRunner, test_id: str, last: bool = False) -> None:
    """Send the master every byte written since the last call (markers last); `last`: the
    test is over, and its local folder goes."""
    folder = Worker.folder
    if folder is None or not folder.exists():
        return
    for path in sorted(folder.iterdir(), key=lambda p: (p.suffix == ".done", p.name)):
        offset = Worker.sent.get(path.name, 0)
        if path.suffix == ".tmp" or path.stat().st_size <= offset:
            continue
        with path.open("rb") as source:
            source.seek(offset)
            data = source.read()
        runner.send_message("lab_samples", {"test": test_id, "name": path.name,
                                            "offset": offset, "data": data})
        Worker.sent[path.name] = offset + len(data)
    if last:
        shutil.rmtree(folder.parent, ignore_errors=True)
        Worker.folder = None


def _on_credentials(environment: Environment, msg: Any, **_: Any) -> None:
    Worker.credentials = msg.data


def _on_finish(environment: Environment, msg: Any, **_: Any) -> None:
    """Stop the users now (their last requests are recorded and shipped by test_stop)."""
    runner = environment.runner
    assert isinstance(runner, WorkerRunner)
    runner.stop()
    runner.send_message("lab_finished", {"worker": runner.client_id})


# -- master side --------------------------------------------------------------------------

def _on_samples(environment: Environment, msg: Any, **_: Any) -> None:
    data = msg.data
    name, test = str(data["name"]), str(data["test"])
    if Master.samples is None or Path(name).name != name or Path(test).name != test:
        return     # a plain file name into this run's test folder, nothing else
    folder = Master.samples / test
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    with path.open("r+b" if path.exists() else "wb") as out:
        out.seek(int(data["offset"]))
        out.write(data["data"])


def _on_finished(environment: Environment, msg: Any, **_: Any) -> None:
    Master.finished.add(msg.node_id)
    note("finished", msg.node_id)


def _watch_missing(runner: MasterRunner) -> None:
    while True:
        gevent.sleep(WATCH_INTERVAL_S)
        for client in runner.clients.all:
            if client.state == STATE_MISSING and client.id not in Master.noted_missing:
                Master.noted_missing.add(client.id)
                note("missing", client.id)


def send_credentials(runner: MasterRunner, credentials: str) -> None:
    """Give every worker the test's credentials before its spawn orders (same socket)."""
    runner.send_message("lab_credentials", json.loads(credentials))


def finish_workers(environment: Environment) -> None:
    """Ask every live worker to stop and send its last bytes; wait for each, bounded."""
    runner = environment.runner
    assert isinstance(runner, MasterRunner)
    alive = {c.id for c in runner.clients.all if c.state != STATE_MISSING}
    Master.finished -= alive
    for worker in alive:
        runner.send_message("lab_finish", None, client_id=worker)
    deadline = time.monotonic() + (environment.stop_timeout or 0) + FINISH_GRACE_S
    while time.monotonic() < deadline:
        missing = {c.id for c in runner.clients.all if c.state == STATE_MISSING}
        if not alive - Master.finished - missing:
            return
        gevent.sleep(0.2)
    for worker in sorted(alive - Master.finished):
        note("unfinished", worker)


@events.init.add_listener
def _register(environment: Environment, **_: Any) -> None:
    runner = environment.runner
    if isinstance(runner, WorkerRunner):
        runner.register_message("lab_credentials", _on_credentials)
        runner.register_message("lab_finish", _on_finish, concurrent=True)
    elif isinstance(runner, MasterRunner):
        samples = getattr(environment.parsed_options, "lab_samples", "")
        Master.samples = Path(samples) if samples else None
        runner.register_message("lab_samples", _on_samples)
        runner.register_message("lab_finished", _on_finished)
        gevent.spawn(_watch_missing, runner)


@events.worker_connect.add_listener
def _joined(client_id: str, **_: Any) -> None:
    note("joined", client_id)


@events.test_stopping.add_listener
def _stopping(environment: Environment, **_: Any) -> None:
    if isinstance(environment.runner, MasterRunner):
        finish_workers(environment)
