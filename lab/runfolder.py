"""The run folder's contract: every file's name, the typed summary, one writer and one reader.

A run folder (`reports/<UTC time>_<scenario>_<tag>/`) is what a load run
leaves: summary.json (this module's `Summary`), every request
(requests.parquet), server samples, statement statistics, plans, Locust's own
output and the rendered report. The run pipeline writes it once through
`write_run_folder`; the report, `lab compare`, the trends index, the
notebook and the tests read it through `RunFolder`, never by spelling keys.
"""

from __future__ import annotations

import json
import time
from functools import cached_property
from pathlib import Path
from typing import Any

import pandas as pd
from pydantic import ValidationError

from lab.errors import LabError
from lab.integrity import CheckResult
from lab.records import (
    Attribution,
    Dataset,
    Environment,
    FaultOutcome,
    Ledger,
    LocustInfo,
    Record,
    RequestStats,
    SamplesInfo,
    SamplingInfo,
    ScenarioInfo,
    VisibilityLag,
    Windows,
)
from lab.runconfig import RunConfig
from lab.verdicts import Verdict

# Version 1: summaries before the contract (no format_version key).
FORMAT_VERSION = 2

SUMMARY_FILE = "summary.json"
REQUESTS_FILE = "requests.parquet"     # every request of the run, sorted by start time
SERVER_FILE = "server.parquet"         # the server sampler's rows, every second
WAITS_FILE = "waits.parquet"           # the sessions at work, sampled at 10 Hz
STALLS_FILE = "stalls.parquet"         # loop lag and GC pauses per process and second
EVENTS_FILE = "events.parquet"         # checkpoints, vacuums, analyzes, with their times
STATEMENTS_FILE = "statements.json"    # the run's pg_stat_statements delta
PLANS_FILE = "plans.json"              # EXPLAIN ANALYZE after the load, with findings
CONNECTIONS_FILE = "connections.json"  # the SC4 experiment (also `lab connections` folders)
REPORT_FILE = "index.html"
JUNIT_FILE = "junit.xml"
MARKDOWN_FILE = "summary.md"           # the verdicts and gates for CI job pages
GATES_FILE = "gates.json"              # regression gates against a baseline run, when judged
SAMPLES_DIR = "samples"                # each Locust process's chunks, before the merge
CREDENTIALS_FILE = "credentials.json"  # tokens for Locust; deleted when the run ends
API_LOG = "api.log"
LOCUST_LOG = "locust.log"
LOCUST_DIR = "locust"                  # Locust's own CSV, HTML and JSON output
PROFILES_DIR = "profiles"              # `--profile`: py-spy's collapsed stacks per process
PROFILES_FILE = "profiles.json"        # ...and what each recording was and cost (in it)
LOCUST_CSV_PREFIX = f"{LOCUST_DIR}/locust"
LOCUST_REPORT = f"{LOCUST_DIR}/report.html"
LOCUST_STATS = f"{LOCUST_DIR}/stats.json"
LOCUST_HISTORY = f"{LOCUST_DIR}/locust_stats_history.csv"


class Summary(Record):
    """summary.json: everything a report needs to judge and explain the run, without a database."""

    format_version: int = FORMAT_VERSION
    started_at: str
    finished_at: str
    windows: Windows
    config: RunConfig
    scenario: ScenarioInfo
    environment: Environment
    dataset: Dataset
    locust: LocustInfo
    samples: SamplesInfo
    server_sampling: SamplingInfo
    integrity: list[CheckResult]
    ledger: Ledger
    faults: list[FaultOutcome]
    statements_top: list[dict[str, Any]]
    stats: RequestStats                    # the measurement window: what the criteria judge
    warmup_stats: RequestStats             # the warm-up: cold-start numbers, judged by none
    attribution: Attribution
    visibility: VisibilityLag | None = None    # (folders written before it had none)
    criteria: list[Verdict]
    exit_code: int

    def verdict(self, criterion: str) -> Verdict | None:
        return next((v for v in self.criteria if v.id == criterion), None)


def user_history(folder: Path) -> pd.DataFrame:
    """Active users per second from Locust's history CSV in a run folder (empty when absent;
    readable before the folder's summary is written)."""
    path = folder / LOCUST_HISTORY
    if not path.exists():
        return pd.DataFrame(columns=["ts", "users"])
    history = pd.read_csv(path)
    history = history[history["Name"] == "Aggregated"]
    return pd.DataFrame({"ts": history["Timestamp"].astype(float),
                         "users": history["User Count"].astype(int)})


def utc_stamp(ts: float | None = None) -> str:
    """An ISO 8601 UTC time to the second, as summaries record times."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


def new_run_folder(reports_dir: Path, scenario: str, label: str, now: float) -> Path:
    """Create `reports_dir/<UTC time>_<scenario>_<label>/` (never reusing one); the path is
    absolute, so child processes started elsewhere find it too."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now))
    folder = reports_dir.resolve() / f"{stamp}_{scenario}_{label}"
    folder.mkdir(parents=True, exist_ok=False)
    return folder


def _dump(value: Any) -> str:
    return json.dumps(value, indent=1, default=str)


def write_run_folder(folder: Path, summary: Summary, tables: dict[str, pd.DataFrame],
                     statements: list[dict[str, Any]], plans: dict[str, Any] | None) -> None:
    """Write a judged run's files (`tables`: SERVER_FILE, WAITS_FILE, ... to their frames);
    the summary last, so a folder with one is complete."""
    for name, frame in tables.items():
        frame.to_parquet(folder / name)
    (folder / STATEMENTS_FILE).write_text(_dump(statements))
    if plans is not None:
        (folder / PLANS_FILE).write_text(_dump(plans))
    partial = folder / f"{SUMMARY_FILE}.partial"
    partial.write_text(summary.model_dump_json(indent=1))
    partial.replace(folder / SUMMARY_FILE)


def read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise LabError(f"{path} is not valid JSON: {exc}") from exc


def load_summary(folder: Path) -> Summary:
    """Read and check summary.json; an older or broken one is refused in one line."""
    path = folder / SUMMARY_FILE
    document = read_json(path)
    version = document.get("format_version", 1) if isinstance(document, dict) else None
    if version != FORMAT_VERSION:
        raise LabError(f"{path} is run-folder format {version}; this lab (format "
                       f"{FORMAT_VERSION}) cannot read it: its index.html still shows the run, "
                       "or run it again")
    try:
        return Summary.model_validate(document, context={"recorded": True})
    except ValidationError as exc:
        raise LabError(f"{path} does not match format {FORMAT_VERSION}: "
                       f"{exc.errors()[0]['loc']} {exc.errors()[0]['msg']}") from None


def load_connections(folder: Path) -> dict[str, Any] | None:
    """The SC4 experiment's document of `folder`, or None when it has none."""
    path = folder / CONNECTIONS_FILE
    return dict(read_json(path)) if path.exists() else None


class RunFolder:
    """A run folder, read lazily: the summary, samples, server rows, statements and plans."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        if not (self.path / SUMMARY_FILE).is_file():
            raise LabError(f"{self.path} is not a run folder: it has no {SUMMARY_FILE} "
                           "(run folders are made by `lab run` and `lab ui`)")

    @property
    def name(self) -> str:
        return self.path.name

    @cached_property
    def summary(self) -> Summary:
        return load_summary(self.path)

    @cached_property
    def samples(self) -> pd.DataFrame:
        """Every request of the run, sorted by start time."""
        path = self.path / REQUESTS_FILE
        if not path.exists():
            raise LabError(f"{path} is missing: the run's samples are needed for the charts")
        return pd.read_parquet(path)

    @cached_property
    def server(self) -> pd.DataFrame:
        """The server sampler's rows (empty when the run had none)."""
        return self.table(SERVER_FILE)

    def table(self, name: str) -> pd.DataFrame:
        """One of the run's per-second or sampled tables (empty when the run had none)."""
        path = self.path / name
        return pd.read_parquet(path) if path.exists() else pd.DataFrame()

    @cached_property
    def statements(self) -> list[dict[str, Any]]:
        path = self.path / STATEMENTS_FILE
        return list(read_json(path)) if path.exists() else []

    @cached_property
    def plans(self) -> dict[str, Any] | None:
        path = self.path / PLANS_FILE
        return dict(read_json(path)) if path.exists() else None

    @cached_property
    def connections(self) -> dict[str, Any] | None:
        return load_connections(self.path)

    @cached_property
    def user_history(self) -> pd.DataFrame:
        return user_history(self.path)

    @property
    def origin_ts(self) -> float:
        """Time zero of the run's charts: the first request sent."""
        return self.summary.windows.run.start_ts

    def has(self, name: str) -> bool:
        return (self.path / name).exists()
