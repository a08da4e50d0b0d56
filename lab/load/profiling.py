"""Where the CPU goes inside the API workers and the Locust processes (`lab run --profile`).

py-spy samples each process from outside (it reads the process's memory; with
--nonblocking it never pauses it) for the measurement window, and writes the
sampled stacks collapsed, one line per distinct stack with its count. The
report turns them into a flame graph and a table of functions by own time.
What py-spy itself used of the CPU is measured and kept beside them: a profile
that costs the machine is part of what it measured.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil

from lab.runfolder import PROFILES_FILE

RATE_HZ = 100          # py-spy's default; its cost is reported with every profile
START_TIMEOUT_S = 5.0


def py_spy() -> str | None:
    """The py-spy installed with the lab (beside this Python), else one on PATH."""
    beside = Path(sys.executable).with_name("py-spy")
    return str(beside) if beside.exists() else shutil.which("py-spy")


def python_processes(root: int) -> list[int]:
    """The pids of `root` and its descendants that run Python (the processes that handle
    requests: a uvicorn supervisor's workers, Locust's master and workers)."""
    found: list[int] = []
    try:
        tree = [psutil.Process(root), *psutil.Process(root).children(recursive=True)]
    except psutil.Error:
        return found
    for process in tree:
        try:
            if "python" in Path(process.exe()).name:
                found.append(process.pid)
        except psutil.Error:
            continue
    return found


class Profiler(threading.Thread):
    """Record every named process for `duration_s`, from `delay_s` after `started()`."""

    def __init__(self, groups: dict[str, int], folder: Path, started: Callable[[], bool],
                 delay_s: float, duration_s: float) -> None:
        super().__init__(name="profiler", daemon=True)
        self.groups = groups            # "api", "locust": the root of each process tree
        self.folder = folder
        self.started = started          # the load has begun (its first test folder)
        self.delay_s, self.duration_s = delay_s, duration_s
        self.results: dict[str, Any] = {}
        self.problems: list[str] = []
        self._stop_event = threading.Event()

    def stop(self) -> None:
        """Cut the recording short (the load ended early) and wait for the files."""
        self._stop_event.set()
        self.join(timeout=60)
        self.folder.mkdir(parents=True, exist_ok=True)
        (self.folder / PROFILES_FILE).write_text(json.dumps(
            {"rate_hz": RATE_HZ, "processes": self.results, "problems": self.problems},
            indent=1))

    def run(self) -> None:
        binary = py_spy()
        if binary is None:
            self.problems.append("py-spy is not installed: `pip install py-spy`")
            return
        while not self.started():
            if self._stop_event.wait(0.2):
                return
        if self._stop_event.wait(self.delay_s):
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        running: dict[str, tuple[subprocess.Popen[bytes], psutil.Process, dict[str, Any]]] = {}
        for group, root in self.groups.items():
            for pid in python_processes(root):
                name = f"{group}-{pid}"
                argv = [binary, "record", "--format", "raw", "--rate", str(RATE_HZ),
                        "--duration", str(max(1, round(self.duration_s))), "--nonblocking",
                        "--pid", str(pid), "--output", str(self.folder / f"{name}.txt")]
                process = subprocess.Popen(argv, stdout=subprocess.DEVNULL,
                                           stderr=subprocess.PIPE)
                meta: dict[str, Any] = {"group": group, "pid": pid, "started": time.time()}
                running[name] = (process, psutil.Process(process.pid), meta)
        cpu = dict.fromkeys(running, 0.0)
        stopping = False
        while any(process.poll() is None for process, _, _ in running.values()):
            for name, (process, handle, _) in running.items():
                try:     # read while it lives: an exited process's CPU is gone
                    times = handle.cpu_times()
                    cpu[name] = times.user + times.system
                except psutil.Error:
                    pass
                if stopping and process.poll() is None:
                    process.send_signal(signal.SIGINT)     # py-spy writes what it has
            if stopping:
                time.sleep(0.1)
            elif self._stop_event.wait(0.5):
                stopping = True
        for name, (process, _, meta) in running.items():
            error = process.stderr.read().decode(errors="replace") if process.stderr else ""
            meta.update(seconds=round(time.time() - float(meta["started"]), 1),
                        profiler_cpu_s=round(cpu[name], 2), file=f"{name}.txt",
                        written=(self.folder / f"{name}.txt").exists())
            if not meta["written"]:
                self.problems.append(f"{name}: py-spy wrote nothing ({error.strip()[-200:]})")
            self.results[name] = meta


def profiler_for(api_pid: int | None, locust_pid: int, folder: Path,
                 started: Callable[[], bool], window_start_s: float, run_time_s: float,
                 remote_workers: bool) -> Profiler:
    """A profiler of this machine's API workers and Locust processes over the measurement
    window (from `window_start_s` after the load starts to 2 s before it ends)."""
    groups = {"locust": locust_pid} if api_pid is None else {"api": api_pid,
                                                             "locust": locust_pid}
    profiler = Profiler(groups, folder, started, window_start_s,
                        max(1.0, run_time_s - window_start_s - 2))
    if api_pid is None:
        profiler.problems.append("the API is not on this machine (--target): not profiled")
    if remote_workers:
        profiler.problems.append("workers that joined from elsewhere are not profiled")
    return profiler
