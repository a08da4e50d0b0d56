"""Read a run folder: everything a report, a comparison or the notebook needs, no database."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import pandas as pd

from lab.errors import LabError
from lab.load.samples import MERGED_FILE

REPORT_FILE = "index.html"
JUNIT_FILE = "junit.xml"
PLANS_FILE = "plans.json"


@dataclass
class RunFolder:
    path: Path

    @classmethod
    def load(cls, path: Path | str) -> RunFolder:
        folder = cls(Path(path))
        if not (folder.path / "summary.json").is_file():
            raise LabError(f"{folder.path} is not a run folder: it has no summary.json "
                           "(run folders are made by `lab run` and `lab ui`)")
        return folder

    @property
    def name(self) -> str:
        return self.path.name

    @cached_property
    def summary(self) -> dict[str, Any]:
        try:
            return dict(json.loads((self.path / "summary.json").read_text()))
        except json.JSONDecodeError as exc:
            raise LabError(f"{self.path / 'summary.json'} is not valid JSON: {exc}") from exc

    @cached_property
    def samples(self) -> pd.DataFrame:
        """Every request of the run, sorted by start time (requests.parquet)."""
        path = self.path / MERGED_FILE
        if not path.exists():
            raise LabError(f"{path} is missing: the run's samples are needed for the charts")
        return pd.read_parquet(path)

    @cached_property
    def server(self) -> pd.DataFrame:
        """Server samples every 2 s (empty when the run had none)."""
        path = self.path / "server.parquet"
        return pd.read_parquet(path) if path.exists() else pd.DataFrame()

    @cached_property
    def statements(self) -> list[dict[str, Any]]:
        path = self.path / "statements.json"
        return list(json.loads(path.read_text())) if path.exists() else []

    @cached_property
    def plans(self) -> dict[str, Any] | None:
        path = self.path / PLANS_FILE
        return dict(json.loads(path.read_text())) if path.exists() else None

    @cached_property
    def user_history(self) -> pd.DataFrame:
        """Active users per second from Locust's history CSV (empty when absent)."""
        path = self.path / "locust" / "locust_stats_history.csv"
        if not path.exists():
            return pd.DataFrame(columns=["ts", "users"])
        history = pd.read_csv(path)
        history = history[history["Name"] == "Aggregated"]
        return pd.DataFrame({"ts": history["Timestamp"].astype(float),
                             "users": history["User Count"].astype(int)})

    @property
    def origin_ts(self) -> float:
        return float(self.summary.get("load_started_ts") or self.samples["start_ts"].min())

    @property
    def verdicts(self) -> dict[str, dict[str, Any]]:
        return {v["id"]: v for v in self.summary["criteria"]}
