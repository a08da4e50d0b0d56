"""The Locust workers of a run as the master saw them: joined, missing, finished.

The master notes each event in `<samples>/workers.jsonl` (lab.swarm.distributed);
`lab run` reads the new lines while it waits, so a person sees which workers
joined, from where, and which one stopped answering.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

WORKERS_LOG = "workers.jsonl"     # lab.swarm.distributed writes it under the samples folder
EVENT_TEXT = {"joined": "joined", "missing": "stopped answering (no heartbeat)",
              "finished": "sent its last samples",
              "unfinished": "did not send its last samples in time"}


@dataclass
class WorkerLog:
    """Reads workers.jsonl incrementally."""

    path: Path
    offset: int = 0
    joined: list[str] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)

    def new_lines(self) -> list[str]:
        """What happened since the last call, as lines for a person."""
        try:
            with self.path.open() as source:
                source.seek(self.offset)
                text = source.read()
        except FileNotFoundError:
            return []
        complete = text[:text.rfind("\n") + 1]
        self.offset += len(complete.encode())
        lines = []
        for raw in complete.splitlines():
            event = json.loads(raw)
            self.events.append(event)
            worker = event["worker"]
            if event["event"] == "joined" and worker not in self.joined:
                self.joined.append(worker)
                lines.append(f"  worker {worker} joined ({len(self.joined)} so far)")
            elif event["event"] == "joined":
                lines.append(f"  worker {worker} joined again")
            else:
                lines.append(f"  worker {worker} {EVENT_TEXT.get(event['event'], event['event'])}")
        return lines

