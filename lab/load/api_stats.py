"""What an API tells about itself on /stats, read every second by the sampler.

For an API the lab started, its process CPU and memory are read off the
process tree and its loop lag from files it writes; an API elsewhere
(`lab run --target`) can only say them itself. Each /stats answer comes from
one worker: its CPU seconds give that worker's rate since the last answer it
gave, and the API's CPU is the sum of every worker's latest rate. Its stall
seconds (the last two minutes of each worker) are kept once each and written
beside the Locust processes' series, where the collection reads them all.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lab.stalls import PREFIX
from lab.targets import REMOTE_API

REMOTE_CPU = f"{REMOTE_API}_cpu_percent"
REMOTE_RSS = f"{REMOTE_API}_rss_mb"
STALLS_NAME = f"{PREFIX}api-remote.jsonl"


@dataclass
class ApiStats:
    """The per-worker state behind the remote API's columns."""

    last: dict[int, tuple[float, float]] = field(default_factory=dict)   # pid -> (ts, cpu_s)
    rate: dict[int, float] = field(default_factory=dict)                 # pid -> % of a core
    rss: dict[int, float] = field(default_factory=dict)
    stalls: dict[tuple[str, int], dict[str, Any]] = field(default_factory=dict)

    def read(self, answer: dict[str, Any]) -> dict[str, float]:
        """Columns for this second's server row from one /stats answer."""
        process = answer.get("process")
        for row in answer.get("stalls") or []:
            self.stalls[(str(row["process"]), int(row["ts"]))] = row
        if not isinstance(process, dict):
            return {}
        pid, ts, cpu_s = int(process["pid"]), float(process["ts"]), float(process["cpu_s"])
        before = self.last.get(pid)
        if before is not None and ts > before[0]:
            self.rate[pid] = max(0.0, (cpu_s - before[1]) / (ts - before[0]) * 100)
        self.last[pid] = (ts, cpu_s)
        self.rss[pid] = float(process["rss_mb"])
        columns = {REMOTE_RSS: round(sum(self.rss.values()), 1)}
        if self.rate:
            columns[REMOTE_CPU] = round(sum(self.rate.values()), 1)
        return columns

    def write_stalls(self, folder: Path) -> int:
        """Write the stall seconds seen, oldest first; return how many."""
        rows = [self.stalls[key] for key in sorted(self.stalls, key=lambda k: (k[1], k[0]))]
        if rows:
            folder.mkdir(parents=True, exist_ok=True)
            (folder / STALLS_NAME).write_text("".join(json.dumps(r) + "\n" for r in rows))
        return len(rows)
