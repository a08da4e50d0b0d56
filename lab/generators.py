"""The C load generators the lab drives: pgbench (the exact SQL) and wrk (HTTP).

The one place that turns a named statement into a pgbench script, runs
pgbench with every transaction logged, runs wrk (with a Lua script when
given) and reads both tools' output, for `lab bench api` and the connection
experiment alike.
"""

from __future__ import annotations

import re
import resource
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from lab.errors import LabError
from lab.pg.embedded import bin_dir
from lab.queries import query


def pgbench_sql(statement: str, values: dict[str, Any]) -> str:
    """The named statement as a pgbench script line: each placeholder becomes a literal,
    or a pgbench variable when its value is a string such as ':user_id'."""
    sql = query(statement)
    for key, value in values.items():
        literal = f"'{value.isoformat()}'" if isinstance(value, datetime) else str(value)
        sql = sql.replace(f"%({key})s", literal)
    if "%(" in sql:
        raise LabError(f"query {statement} has parameters pgbench cannot fill")
    return sql + ";\n"


def children_cpu_s() -> float:
    """CPU seconds of every child process waited for so far (a load generator's cost)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


@dataclass
class PgbenchRun:
    returncode: int
    stdout: str
    stderr: str
    latency_us: np.ndarray     # every logged transaction
    cpu_s: float               # pgbench's own CPU time

    def _number(self, pattern: str) -> float | None:
        match = re.search(pattern, self.stdout)
        return float(match.group(1)) if match else None

    @property
    def tps(self) -> float | None:
        return self._number(r"tps = ([\d.]+)")

    @property
    def failed(self) -> int:
        return int(self._number(r"number of failed transactions: (\d+)") or 0)

    @property
    def connect_ms(self) -> float | None:
        """pgbench's time to open all of one thread's sessions (not one session's)."""
        return self._number(r"initial connection time = ([\d.]+) ms")


def run_pgbench(url: str, scripts: list[tuple[str, int]], clients: int, seconds: int,
                protocol: str) -> PgbenchRun:
    """Run the embedded pgbench: `clients` sessions on 2 threads at most, weighted scripts,
    every transaction logged. A failing pgbench is returned, not raised: callers decide."""
    with tempfile.TemporaryDirectory() as folder:
        argv = [str(bin_dir() / "pgbench"), "-n", "-M", protocol, "-c", str(clients), "-j",
                str(min(clients, 2)), "-T", str(seconds), "-l", "--log-prefix",
                str(Path(folder) / "log")]
        for number, (script, weight) in enumerate(scripts):
            path = Path(folder) / f"script{number}.sql"
            path.write_text(script)
            argv += ["-f", f"{path}@{weight}"]
        cpu_before = children_cpu_s()
        done = subprocess.run([*argv, url], capture_output=True, text=True,
                              timeout=seconds + 300, check=False)
        latencies = [int(line.split()[2]) for log in Path(folder).glob("log*")
                     for line in log.read_text().splitlines() if line.strip()]
    return PgbenchRun(done.returncode, done.stdout, done.stderr,
                      np.array(latencies, dtype=np.int64), children_cpu_s() - cpu_before)


def wrk_available() -> bool:
    return shutil.which("wrk") is not None


def require_wrk(purpose: str) -> str:
    path = shutil.which("wrk")
    if path is None:
        raise LabError(f"{purpose} needs wrk: apt-get install wrk (Debian/Ubuntu)")
    return path


WRK_ERRORS = re.compile(r"(?:connect|read|write|timeout) (\d+)")


@dataclass
class WrkRun:
    returncode: int
    stdout: str
    stderr: str
    cpu_s: float               # wrk's own CPU time

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and "Requests/sec" in self.stdout

    def failure(self) -> str:
        return (self.stderr or self.stdout).strip()[-400:]

    @property
    def per_s(self) -> float:
        match = re.search(r"Requests/sec:\s+([\d.]+)", self.stdout)
        return float(match.group(1)) if match else 0.0

    @property
    def errors(self) -> int:
        """Non-2xx answers plus socket errors (connect, read, write, timeout)."""
        errors = sum(int(n) for n in re.findall(r"Non-2xx or 3xx responses: (\d+)", self.stdout))
        return errors + sum(int(n) for n in WRK_ERRORS.findall(self.stdout))

    def latency_ms(self, label: str) -> float:
        """A percentile of wrk's --latency distribution ("50%", "99%"), in ms."""
        match = re.search(rf"{re.escape(label)}\s+([\d.]+)(us|ms|s)\b", self.stdout)
        if match is None:
            return float("nan")
        value, unit = float(match.group(1)), match.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    def script_line(self, prefix: str) -> str | None:
        """The line a Lua script's done() printed with `prefix`, without it."""
        line = next((x for x in self.stdout.splitlines() if x.startswith(prefix)), None)
        return None if line is None else line.removeprefix(prefix)


def run_wrk(url: str, connections: int, seconds: int, purpose: str, script: str | None = None,
            headers: dict[str, str] | None = None, timeout_s: int | None = None) -> WrkRun:
    """Run wrk with `connections` keep-alive connections on at most 2 threads for `seconds`.

    A failing wrk is returned, not raised: callers decide.
    """
    wrk = require_wrk(purpose)
    with tempfile.TemporaryDirectory() as folder:
        argv = [wrk, "-t", str(min(connections, 2)), "-c", str(connections), "-d",
                f"{seconds}s", "--latency"]
        if timeout_s is not None:
            argv += ["--timeout", f"{timeout_s}s"]
        for key, value in (headers or {}).items():
            argv += ["-H", f"{key}: {value}"]
        if script:
            path = Path(folder) / "load.lua"
            path.write_text(script)
            argv += ["-s", str(path)]
        cpu_before = children_cpu_s()
        done = subprocess.run([*argv, url], capture_output=True, text=True,
                              timeout=seconds + 120, check=False)
    return WrkRun(done.returncode, done.stdout, done.stderr, children_cpu_s() - cpu_before)
