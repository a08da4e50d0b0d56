"""Growth studies: how far the target goes (capacity) and how its cost grows (scaling).

This package holds what their writers and readers share: the documents'
file names and how they are written and read, a capacity step's outcome read
off its run folder, the knee and the headline of a search.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from lab.errors import LabError
from lab.runfolder import read_json

CAPACITY_FILE = "capacity.json"   # `lab capacity`: the search, every step, the capacities
SCALING_FILE = "scaling.json"     # `lab scaling`: every cost curve and its fit
GRAPH_FILE = "graph.json"         # `lab seed`: the seeded graph beside a published one


def write_document(folder: Path, name: str, document: dict[str, Any]) -> Path:
    """Write a study's document whole (a reader never sees half of one)."""
    path = folder / name
    partial = path.with_suffix(".partial")
    partial.write_text(json.dumps(document, indent=1, default=str))
    partial.replace(path)
    return path


def read_document(folder: Path, name: str) -> dict[str, Any]:
    """A study's document, or one line saying the folder is not that study's."""
    path = folder / name
    if not path.is_file():
        raise LabError(f"{folder} has no {name}: it is not a capacity, scaling or graph "
                       "folder (`lab capacity`, `lab scaling`, `lab seed` make them)")
    return dict(read_json(path))
