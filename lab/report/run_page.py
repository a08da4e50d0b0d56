"""The run report: verdicts first, then the evidence behind each (requests, charts, database,
plans, findings, integrity), in one self-contained HTML file."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pandas as pd

from lab.plans.statements import label_statements
from lab.records import FaultOutcome
from lab.report import charts, time_section
from lab.report.connections_page import section_context
from lab.report.flames import profiles_context
from lab.report.gates import read_gates
from lab.report.junit import write_junit
from lab.report.markdown import write_markdown
from lab.report.render import write_page
from lab.runfolder import (
    EVENTS_FILE,
    JUNIT_FILE,
    LOCUST_REPORT,
    REPORT_FILE,
    STALLS_FILE,
    RunFolder,
    Summary,
)
from lab.security import FUZZ_EXAMPLES_PER_OPERATION
from lab.verdicts import DEFAULT_THRESHOLDS

# The section of the page that holds each criterion's evidence.
SECTION_ANCHORS = {"SC1": "requests", "SC2": "integrity", "SC3": "chart-buckets",
                    "SC4": "database", "SC5": "requests", "SC6": "plans", "T1": "requests",
                    "R": "reliability", "V": "chart-cpu"}
TOP_STATEMENTS = 15


SETTING_WITH_UNIT = re.compile(r"^(\d+) (\d*)(B|kB|MB|GB)$")
UNIT_BYTES = {"B": 1, "kB": 2**10, "MB": 2**20, "GB": 2**30}


def setting_text(value: str | None) -> str:
    """pg_settings' '16384 8kB' as '128 MB'; anything else unchanged."""
    match = SETTING_WITH_UNIT.match(value or "")
    if not match:
        return value or "?"
    size = int(match.group(1)) * int(match.group(2) or 1) * UNIT_BYTES[match.group(3)]
    for unit in ("GB", "MB", "kB"):
        if size >= UNIT_BYTES[unit]:
            return f"{size / UNIT_BYTES[unit]:,.4g} {unit}"
    return f"{size} B"


def identity(summary: Summary) -> list[tuple[str, str]]:
    """Who, what and where: enough to reproduce the run or to refuse comparing it."""
    config, env = summary.config, summary.environment
    settings, machine = env.postgres.settings, env.machine
    commit = (env.git.commit or "unknown")[:12] + (" (uncommitted changes)"
                                                   if env.git.dirty else "")
    return [
        ("scenario", f"{summary.scenario.name}: {summary.scenario.description}"),
        ("timeline strategy", config.strategy),
        ("users", f"{config.users:,} (spawn {config.spawn_rate:g}/s"
                  + (f", shape {config.shape}" if config.shape else "") + ")"),
        ("duration", f"{config.run_time_s} s, started {summary.started_at}"),
        ("dataset", f"{config.scale} (seed {config.seed}): "
                    + ", ".join(f"{k} {v:,}" for k, v in summary.dataset.rows.items())),
        ("API", (f"{config.target}, not started by the lab: observed through its /stats"
                 if config.target else f"{config.api_workers} uvicorn worker(s)")
                + f"; Locust {config.locust_workers or 'single process'}"
                + (" worker(s)" if config.locust_workers else "")
                + (f" joining a master at {config.master_bind}" if config.master_bind
                   else "")),
        ("commit", f"{commit}, lab {env.lab_version}"),
        ("changed before the load", "; ".join(config.before_load) or "nothing"),
        ("API shape", f"pool {env.api.pool_min}-{env.api.pool_max} per worker, timeout "
                      f"{env.api.pool_timeout_s:g} s, Server-Timing "
                      f"{'on' if env.api.server_timing else 'off'}, gc.freeze "
                      f"{'on' if env.api.gc_freeze else 'off'}"),
        ("PostgreSQL", f"{settings.get('server_version', '?')}, shared_buffers "
                       f"{setting_text(settings.get('shared_buffers'))}, work_mem "
                       f"{setting_text(settings.get('work_mem'))}, synchronous_commit "
                       f"{settings.get('synchronous_commit', '?')}"),
        ("machine", f"{machine.hostname}: {machine.cpus or '?'} CPUs, {machine.memory_gb} GB, "
                    f"{machine.platform}"),
    ]


def samples_by_process(samples: pd.DataFrame) -> str:
    """Which Locust processes' requests reached the run folder (w<index>_<pid>: a worker,
    local_<pid>: a single process), and how many each."""
    if samples.empty:
        return "none"
    counts = samples.groupby("worker").size()
    return " · ".join(f"{worker} {count:,}" for worker, count in counts.items())


def failures_by_reason(samples: pd.DataFrame) -> list[dict[str, Any]]:
    failed = samples[samples["failure"].notna()]
    if failed.empty:
        return []
    grouped = failed.groupby(["name", "failure"]).size().sort_values(ascending=False)
    return [{"name": name, "reason": reason, "count": int(count)}
            for (name, reason), count in grouped.items()]


def database_counters(server: pd.DataFrame) -> list[tuple[str, str]]:
    """Counters over the run (last minus first sample) and the worst gauges."""
    if server.empty or len(server) < 2:
        return [("server samples", "none were taken")]
    first, last = server.iloc[0], server.iloc[-1]

    def delta(column: str) -> float:
        return float(last.get(column, 0) - first.get(column, 0))

    hit, read = delta("db_blks_hit"), delta("db_blks_read")
    seconds = float(last["ts"] - first["ts"]) or 1.0
    return [
        ("cache hit ratio", f"{hit / (hit + read):.2%}" if hit + read else "–"),
        ("blocks read from outside shared buffers", f"{read:,.0f}"),
        ("commits / rollbacks", f"{delta('db_xact_commit'):,.0f} / "
                                f"{delta('db_xact_rollback'):,.0f} "
                                f"({delta('db_xact_commit') / seconds:,.0f} commits/s)"),
        ("deadlocks", f"{delta('db_deadlocks'):,.0f}"),
        ("temp files (bytes)", f"{delta('db_temp_files'):,.0f} ({delta('db_temp_bytes'):,.0f})"),
        ("rows inserted / updated / deleted", f"{delta('db_tup_inserted'):,.0f} / "
                                              f"{delta('db_tup_updated'):,.0f} / "
                                              f"{delta('db_tup_deleted'):,.0f}"),
        ("most backends waiting on a lock at once",
         f"{server['conn_lock_waits'].max():,.0f}" if "conn_lock_waits" in server else "–"),
        ("most connections to the run database",
         f"{server['conn_total'].max():,.0f}" if "conn_total" in server else "–"),
        ("most requests waiting for a pooled connection",
         f"{server['pool_requests_waiting'].max():,.0f}"
         if "pool_requests_waiting" in server else "–"),
    ]


def statement_rows(folder: RunFolder) -> list[dict[str, Any]]:
    plans = (folder.plans or {}).get("plans", [])
    return label_statements(folder.statements, plans,
                            folder.summary.config.strategy)[:TOP_STATEMENTS]


def outage_spans(faults: list[FaultOutcome], origin: float) -> list[charts.Outage]:
    """Each injected fault from its injection to its end or its clients' last error."""
    spans = []
    for fault in faults:
        if fault.injected_ts is None or fault.restored_ts is None:
            continue
        end = max(fault.restored_ts, fault.last_error_end_ts or 0.0)
        spans.append((fault.injected_ts - origin, end - origin, fault.kind))
    return spans


def reliability(summary: Summary) -> dict[str, Any]:
    """The reliability section: faults and how they were survived, the ledger, bad inputs."""
    return {"faults": summary.faults, "ledger": summary.ledger,
            "violations": sum(c.violations for c in summary.integrity),
            "fuzz_examples": FUZZ_EXAMPLES_PER_OPERATION, "origin": summary.windows.run.start_ts}


def warmup_marks(folder: RunFolder) -> charts.Warmup:
    windows, origin = folder.summary.windows, folder.origin_ts
    return windows.ramp_end_ts - origin, windows.measurement.start_ts - origin


def run_charts(folder: RunFolder) -> list[dict[str, str]]:
    """Every chart of the run page, as (anchor, title, inline image)."""
    samples, server, origin = folder.samples, folder.server, folder.origin_ts
    summary = folder.summary
    warmup = warmup_marks(folder)
    sc3 = summary.config.thresholds.get("SC3", DEFAULT_THRESHOLDS["SC3"])
    outages = outage_spans(summary.faults, origin)
    events = time_section.event_marks(folder.table(EVENTS_FILE), origin)
    figures = [
        ("chart-rps", charts.requests_per_second(samples, origin, warmup, outages)),
        ("chart-latency", charts.latency_over_time(samples, origin, warmup, outages, events)),
    ]
    if not folder.user_history.empty:
        figures.append(("chart-users", charts.active_users(folder.user_history, origin)))
    figures += [
        ("chart-cdf", charts.latency_distribution(samples)),
        ("chart-buckets", charts.timeline_by_follow_bucket(samples, float(sc3))),
        ("chart-throughput", charts.latency_vs_throughput(samples, origin)),
    ]
    if not server.empty:
        cpus = summary.environment.machine.cpus
        figures += [
            ("chart-connections", charts.connections_by_state(server, origin)),
            ("chart-cpu", charts.cpu_by_process(server, origin, cpus)),
            ("chart-pool", charts.pool_waits(server, origin)),
        ]
    stalls = folder.table(STALLS_FILE)
    if not stalls.empty:
        figures.append(("chart-loop-lag", charts.loop_lag(stalls, origin)))
    return [{"anchor": anchor, "title": figure.axes[0].get_title(loc="left"),
             "src": charts.data_uri(figure)} for anchor, figure in figures]


def problems(summary: Summary) -> list[str]:
    """Anything the run saw go wrong besides the criteria."""
    found = []
    locust, samples = summary.locust, summary.samples
    if locust.exit_code not in (0, None):
        found.append(f"Locust exited {locust.exit_code} (see locust.log)")
    if locust.totals and locust.totals.requests != samples.rows:
        found.append(f"Locust counted {locust.totals.requests:,} requests, the lab recorded "
                     f"{samples.rows:,}")
    for worker in samples.unfinished_workers:
        found.append(f"Locust process {worker} did not finish writing its samples")
    for error in summary.server_sampling.errors:
        found.append(f"server sampling: {error}")
    statements = summary.environment.postgres.pg_stat_statements
    if statements != "available":
        found.append(f"pg_stat_statements: {statements}")
    return found


def context(folder: RunFolder) -> dict[str, Any]:
    summary = folder.summary
    experiment = folder.connections
    anchors = SECTION_ANCHORS | ({"SC4": "connections"} if experiment is not None else {})
    explained = time_section.explanation_anchors(summary)
    verdicts = [{**v.as_dict(), "anchor": anchors.get(v.id, ""),
                 "why": explained.get(v.id, "")} for v in summary.criteria]
    plans = folder.plans
    return {
        "title": f"{summary.scenario.name} · {summary.config.strategy} · {summary.started_at}",
        "run": folder.name, "summary": summary,
        "identity": [*identity(summary), ("samples by Locust process",
                                          samples_by_process(folder.samples))],
        "verdicts": verdicts,
        "failed": [v for v, verdict in zip(verdicts, summary.criteria, strict=True)
                   if verdict.blocks],
        "exit_code": summary.exit_code, "stats": summary.stats,
        "warmup_stats": summary.warmup_stats, "windows": summary.windows,
        "failures": failures_by_reason(folder.samples),
        "charts": run_charts(folder), "counters": database_counters(folder.server),
        "statements": statement_rows(folder), "plans": plans,
        "findings": (plans or {}).get("findings", []),
        "integrity": summary.integrity, "problems": problems(summary),
        "reliability": reliability(summary),
        "time": time_section.context(folder, warmup_marks(folder),
                                     outage_spans(summary.faults, folder.origin_ts)),
        "connections": None if experiment is None else section_context(experiment),
        "locust_report": LOCUST_REPORT if folder.has(LOCUST_REPORT) else None,
        "profiles": profiles_context(folder.path),
    }


def write_run_report(path: Path | str) -> Path:
    """(Re)write index.html, junit.xml and summary.md of a run folder from its files alone."""
    folder = RunFolder(path)
    gates = read_gates(folder.path)
    write_junit(folder.summary, folder.path / JUNIT_FILE, gates)
    write_markdown(folder.path, gates)
    return write_page("run.html.j2", {**context(folder), "gates": gates},
                      folder.path / REPORT_FILE)
