"""The tables commands print: requests, verdicts, connections, plans, datasets, integrity."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.table import Table
from rich.text import Text

from lab.attribution.capacity import cpu_per_request_text
from lab.cli.output import console
from lab.errors import first_line
from lab.integrity import CheckResult
from lab.intervals import HIGHER
from lab.records import Attribution, GroupStats, RequestStats, VisibilityLag
from lab.report.flames import profiles_context
from lab.runfolder import PROFILES_DIR
from lab.seed.load import LOADED_TABLES
from lab.verdicts import NOT_IN_SCOPE, Verdict


def print_request_stats(stats: RequestStats) -> None:
    table = Table(title=f"requests of the measurement window ({stats.window.seconds:.0f} s, "
                        "exact percentiles, ms)")
    for column in ("name", "count", "fail", "req/s", "p50", "p95", "p99", "p99.9", "max"):
        table.add_column(column, justify="left" if column == "name" else "right")

    def row(name: str, entry: GroupStats) -> None:
        lat = entry.latency_ms
        cells = [lat.p50, lat.p95, lat.p99, lat.p99_9, lat.max]
        table.add_row(name, f"{entry.count:,}", f"{entry.failures:,}", f"{entry.rps or 0:.1f}",
                      *("-" if c is None else f"{c:.1f}" for c in cells))

    for name, entry in stats.requests.items():
        row(name, entry)
    for bucket, entry in stats.home_timeline_by_follow_bucket.items():
        row(f"  home_timeline, follows {bucket}", entry)
    row("all", stats.total)
    console.print(table)


def print_visibility(lag: VisibilityLag | None) -> None:
    """The probe's visibility lag over the measurement window, one line."""
    if lag is None or not lag.posts:
        return
    unseen = f", {lag.unseen} never seen" if lag.unseen else ""
    console.print(f"visibility lag ({lag.strategy}, {lag.fanout} fan-out; {lag.posts} probe "
                  f"posts): p50 {lag.p50_ms} ms, p99 {lag.p99_ms} ms, {lag.at_first_read} "
                  f"seen at the first read{unseen}")


def print_causes(attribution: Attribution) -> None:
    """What the run's evidence points at, one line each (the report has the numbers behind),
    after the CPU each process group spent per request."""
    if attribution.cpu_ms_per_request:
        console.print(f"CPU per request: {cpu_per_request_text(attribution.cpu_ms_per_request)}",
                      highlight=False)
    if not attribution.causes:
        return
    console.print("[bold]where the time goes[/]")
    for cause in attribution.causes:
        console.print(f"  [yellow]{cause.kind}[/] {cause.text}", highlight=False)
        console.print(f"    [dim]lever: {cause.lever}[/]", highlight=False)


def print_verdicts(verdicts: list[Verdict]) -> None:
    """The compact verdict table of a run."""
    table = Table(title="success criteria")
    for column in ("id", "criterion", "status", "measured", "seed threshold", "lab target"):
        table.add_column(column)
    colours = {"pass": "green", "fail": "bold red", "not measured": "bold red"}
    for v in verdicts:
        met = None if v.status == NOT_IN_SCOPE else v.lab_met
        lab_target = v.lab + ("" if met is None else " ✓" if met else " ✗")
        status = Text(v.status, style=colours.get(v.status, "dim"))
        table.add_row(v.id, v.title, status, v.measured + (f" ({v.note})" if v.note else ""),
                      v.seed, lab_target)
    console.print(table)


WORST_PER_NAME = 1      # uncalled changes shown per request name beside the called ones


def print_comparison(labels: list[str], verdicts: list[dict[str, Any]],
                     requests: list[dict[str, Any]]) -> None:
    """`lab compare` in a terminal: the verdicts side by side, then each later run's changes
    against run 1: every called one, and per request name its largest uncalled one."""
    table = Table(title="success criteria, side by side")
    for column in ("id", *labels):
        table.add_column(column)
    colours = {"pass": "green", "fail": "bold red", "not measured": "bold red"}
    for row in verdicts:
        table.add_row(row["id"], *(Text("–") if v is None else
                                   Text(v.status, style=colours.get(v.status, "dim"))
                                   for v in row["cells"]))
    console.print(table)
    for index, label in enumerate(labels[1:], 1):
        changes = Table(title=f"{label} against {labels[0]} (95 % intervals; a change is "
                              "called only outside the noise)")
        for column in ("request", "metric", "run 1", f"run {index + 1}", "change", "interval",
                       "called"):
            changes.add_column(column, justify="left" if column in ("request", "metric",
                                                                    "called") else "right")
        for row in requests:
            cell = row["cells"][index]
            if not cell or not row["cells"][0]:
                continue
            found = [(metric, d) for metric, d in cell["changes"].items()
                     if d.relative is not None]
            shown = [(m, d) for m, d in found if d.call]
            shown += sorted(((m, d) for m, d in found if not d.call),
                            key=lambda md: -abs(md[1].relative))[:WORST_PER_NAME]
            for metric, d in shown:
                low, high = d.relative_interval() or (float("nan"), float("nan"))
                worse = (d.call == HIGHER) != (metric == "rps")      # more req/s is better
                style = "dim" if not d.call else "bold red" if worse else "green"
                changes.add_row(row["name"], metric, f"{d.reference:,.1f}", f"{d.value:,.1f}",
                                f"{d.relative:+.0%}", f"{low:+.0%} to {high:+.0%}",
                                Text(d.call or "no", style=style))
        console.print(changes)


def print_connection_table(document: dict[str, Any]) -> None:
    table = Table(title="connections (latency ms)")
    for column in ("mode", "path", "round", "clients", "req/s", "p50", "p95", "p99", "errors",
                   "backends", "PSS MB"):
        table.add_column(column, justify="left" if column in ("mode", "path", "errors")
                         else "right")
    for r in document["results"]:
        number = str(r.get("round", 0) + 1)
        if r["status"] != "measured":
            table.add_row(r["mode"], r["path"], number, f"{r['clients']:,}", "stopped", "", "",
                          "", r["note"], "", "")
            continue
        lat = r["latency_ms"]
        table.add_row(r["mode"], r["path"], number, f"{r['clients']:,}",
                      f"{r['throughput_per_s']:,.1f}",
                      *("-" if lat[k] is None else f"{lat[k]:,.1f}" for k in ("p50", "p95", "p99")),
                      ", ".join(f"{k} {v:,}" for k, v in r["errors"].items()) or "0",
                      f"{r['backends_max'] or 0:,}",
                      "-" if r["server_pss_mb"] is None else f"{r['server_pss_mb']:,.0f}")
    console.print(table)
    for r in document["results"]:
        if r.get("latency_withheld"):
            console.print(f"  latency withheld ({r['mode']} {r['path']}, {r['clients']:,} "
                          f"clients, round {r.get('round', 0) + 1}): {r['latency_withheld']}")
    for p in document["paths"]:
        console.print(f"  {p['path']}: paced {p['paced']} ({p['paced_text']}); saturating "
                      f"{p['saturating']} ({p['saturating_text']})")
    sc4 = document["sc4"]
    console.print(f"SC4 {sc4['status']}: {sc4['measured']} ({sc4['note']})")


def print_plans(plans: dict[str, Any], show_trees: bool) -> None:
    """Each statement's execution time and findings; with `show_trees`, its plan too."""
    from lab.plans.tree import rows

    findings: dict[str, int] = {}
    for finding in plans["findings"]:
        findings[finding["statement"]] = findings.get(finding["statement"], 0) + 1
    table = Table("statement", "persona", "execution ms", "findings", box=None)
    for captured in plans["plans"]:
        time_text = (f"{captured['execution_ms']:.3f}" if "execution_ms" in captured
                     else f"[red]{first_line(captured.get('error', '?'))}[/]")
        table.add_row(captured["name"], captured["description"], time_text,
                      str(findings.get(captured["name"], 0)))
    console.print(table)
    for finding in plans["findings"]:
        console.print(f"[yellow]{finding['kind']}[/] {finding['statement']}: {finding['node']}: "
                      f"{finding['evidence']} -> {finding['suggestion']}")
    if show_trees:
        for captured in plans["plans"]:
            if "plan" not in captured:
                continue
            console.print(f"\n[bold]{captured['name']}[/] for {captured['description']}:")
            for row in rows(captured["plan"]):
                console.print(f"{'  ' * row['depth']}{row['label']}  (actual "
                              f"{row['inclusive_ms']:.3f} ms, rows {row['actual_rows']:,.0f} "
                              f"of {row['estimated_rows']:,} estimated, loops {row['loops']})",
                              markup=False, highlight=False)


def print_naive_comparison(naive: dict[str, Any]) -> None:
    table = Table("question", "asked for", "real statement", "real ms", "naive ms", "naive / real",
                  title="the naive schema against the real one (same data, same users)")
    for row in naive["rows"]:
        table.add_row(row["question"], row["persona"], row["real"],
                      "-" if row["real_ms"] is None else f"{row['real_ms']:.3f}",
                      f"{row['naive_ms']:.3f}",
                      "-" if row["times"] is None else f"{row['times']:,.1f}x")
    console.print(table)


def print_facts(facts: dict[str, Any]) -> None:
    table = Table(title=f"dataset {facts['scale']} (seed {facts['seed']})")
    table.add_column("table")
    table.add_column("rows", justify="right")
    for name in LOADED_TABLES:
        table.add_row(name, f"{facts['rows'][name]:,}")
    console.print(table)
    readers = ", ".join(f"{r['id']} ({r['following']:,} follows)"
                        for r in facts["power_readers"][:5])
    popular = ", ".join(f"{p['id']} ({p['followers']:,} followers)"
                        for p in facts["popular_accounts"][:5])
    console.print(f"power readers (follow ≥ 1000): {readers}")
    console.print(f"accounts with ≥ 1000 followers ({facts['popular_accounts_total']}): {popular}")


def print_integrity(results: list[CheckResult], strategy: str) -> None:
    table = Table(title=f"integrity ({strategy})")
    for column in ("check", "violations", "seconds"):
        table.add_column(column)
    for r in results:
        if r.skipped:
            table.add_row(r.name, Text(f"skipped: {r.skipped}", style="dim"), "-")
            continue
        table.add_row(r.name, Text(str(r.violations),
                                   style="green" if r.violations == 0 else "bold red"),
                      "with the above" if r.shared else f"{r.seconds:.2f}")
    console.print(table)


def print_bench_summary(measures: list[Any], saturated: int, moderate: int) -> None:
    table = Table(title="HTTP vs pgbench (same SQL)")
    for column in ("operation", "strategy", "pgbench /s", "HTTP /s", "HTTP/pgbench",
                   "API CPU ms/answer", f"HTTP p50 ms (c={moderate})",
                   f"HTTP p99 ms (c={moderate})", "p99 < 20 ms"):
        table.add_column(column)
    by_key = {(m.name, m.strategy, m.tool, m.connections): m for m in measures}
    for m in measures:
        if m.tool != "http" or m.connections != moderate:
            continue
        pg = next((x for x in measures if x.tool == "pgbench" and x.name == m.name
                   and x.strategy == m.strategy), None)
        busy = by_key.get((m.name, m.strategy, "http", saturated))
        ratio = f"{busy.per_s / pg.per_s:.2f}" if pg and busy else "-"
        top = busy or m      # CPU per answer at the saturating load when there was one
        table.add_row(m.name, m.strategy, f"{pg.per_s:,.0f}" if pg else "-",
                      f"{top.per_s:,.0f}", ratio,
                      "-" if top.api_cpu_ms is None else f"{top.api_cpu_ms:.3f}",
                      f"{m.p50_ms:.2f}", f"{m.p99_ms:.2f}", "yes" if m.p99_ms < 20 else "no")
    console.print(table)


def print_bench_profiles(folder: Path, top: int = 5) -> None:
    """Each profiled load's flame graph (written beside its stacks) and where its API spent
    the CPU, innermost functions first."""
    for load in sorted(p for p in folder.iterdir() if p.is_dir()):
        context = profiles_context(load)
        for process in (context or {}).get("processes", []):
            console.print(f"[bold]{load.name}[/]: {process['samples']:,} samples; "
                          f"flame graph {load / PROFILES_DIR / (process['name'] + '.svg')}")
            for frame, share in process["own"][:top]:
                console.print(f"  {share:6.1%}  {frame}")
