"""pgbench, the C load generator the lab drives on the exact SQL.

The one place that turns a named statement into a pgbench script, runs
pgbench with every transaction logged and reads its output, for `lab bench api`
and the connection experiment alike. HTTP load is lab/httpload.py's.
"""

from __future__ import annotations

import re
import resource
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


# pgbench reads its clock once per wake-up, so a transaction sent and answered within one
# wake-up (pgbench preempted between its send and its read: a machine short of cores) is
# logged as 0 µs. Measured here: 25 of 6,481 on an idle machine, 3,818 of 4,348 beside two
# spinning processes. Past this share of zeros its latencies say more about its scheduling
# than about the server, and the lab withholds them; its throughput stays good.
CLOCK_ZERO_SHARE_MAX = 0.01


@dataclass
class PgbenchRun:
    returncode: int
    stdout: str
    stderr: str
    latency_us: np.ndarray     # every logged transaction
    cpu_s: float               # pgbench's own CPU time

    @property
    def latency_withheld(self) -> str:
        """Why this run's latencies are not measurements ('' when they are)."""
        logged = len(self.latency_us)
        zeros = int(np.count_nonzero(self.latency_us == 0))
        if not logged or zeros <= CLOCK_ZERO_SHARE_MAX * logged:
            return ""
        return (f"pgbench logged {zeros:,} of {logged:,} transactions as 0 µs: it was short of "
                "CPU (its clock is read once per wake-up), so its latencies are not measured")

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
