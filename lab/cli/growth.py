"""`lab capacity` and `lab scaling`: how far the target goes, and how its cost grows."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from lab.cli import options
from lab.cli.app import app
from lab.cli.options import (
    ApiWorkersOption,
    DbOption,
    LocustWorkersOption,
    ReportsOption,
    ScaleOption,
    ScenarioOption,
    SpawnRateOption,
    StrategyOption,
)
from lab.cli.output import (
    console,
    err_console,
    progress_bars,
    run_action,
    stop_on_sigterm,
    timed_say,
)
from lab.config import get_settings
from lab.runconfig import RunConfig
from lab.verdicts import EXIT_ERROR, EXIT_INTERRUPTED, EXIT_PASSED


def print_capacity(folder: Path) -> None:
    """The steps and the capacities, as the page shows them."""
    from rich.table import Table

    from lab.growth import CAPACITY_FILE, read_document

    document = read_document(folder, CAPACITY_FILE)
    table = Table(title="capacity steps (measurement window, all successful requests, ms)")
    for column in ("users", "req/s", "p50", "p95", "p99", "seed", "lab", "CPU PG/API/Locust"):
        table.add_column(column, justify="right")
    for step in sorted(document["steps"], key=lambda s: s["users"]):
        cpu = step["cpu_percent"]
        table.add_row(f"{step['users']:,}", f"{step['rps']:.0f}",
                      *(f"{step[k]:.1f}" if step[k] is not None else "-"
                        for k in ("p50_ms", "p95_ms", "p99_ms")),
                      "pass" if step["seed_pass"] else "fail " + ",".join(step["failed"]),
                      "met" if step["lab_pass"] else "missed " + ",".join(step["missed"]),
                      " / ".join(f"{cpu[g]:.0f}" if g in cpu else "-"
                                 for g in ("postgres", "api", "locust")))
    console.print(table)
    head = document["headline"]
    for key, label in (("seed", "seed thresholds"), ("lab", "lab targets")):
        found = head[key]
        console.print(f"capacity for the {label}: " + (
            "none of the loads tried" if found["users"] is None else
            f"{found['users']:,} users, {found['rps']:.0f} req/s"
            + (f" (fails at {found['first_failing_users']:,})" if found["bounded"]
               else " (no failing step yet)")))
    if head["first_saturated"]:
        first = head["first_saturated"]
        console.print(f"first to saturate: {'; '.join(first['components'])} at "
                      f"{first['users']:,} users")


BudgetOption = Annotated[str, typer.Option(
    help="Stop starting new steps after this long: 90s, 10m, 1h.")]


@app.command(rich_help_panel="Growth")
def capacity(scenario: ScenarioOption = "seed",
             start_users: Annotated[int, typer.Option(
                 min=1, help="The first step's users (the scenario's acceptance load).")] = 1000,
             factor: Annotated[float, typer.Option(
                 help="Step up by this factor until a step fails, then bisect.")] = 1.5,
             precision: Annotated[float, typer.Option(
                 help="Stop bisecting when the failing load is within this share above the "
                      "passing one (0.1: 10 %).")] = 0.1,
             window: Annotated[str, typer.Option(
                 help="Each step's measurement window, after its spawn ramp and 10 s of "
                      "settling.")] = "40s",
             budget: BudgetOption = "15m",
             threshold: Annotated[list[str] | None, typer.Option(
                 help="Judge each step against this seed threshold instead, e.g. SC1=20; "
                      "repeatable.")] = None,
             spawn_rate: SpawnRateOption = 100.0,
             scale: ScaleOption = "small",
             strategy: StrategyOption = "push",
             db: DbOption = None,
             api_workers: ApiWorkersOption = options.DEFAULT_API_WORKERS,
             locust_workers: LocustWorkersOption = 0,
             reports: ReportsOption = Path("reports")) -> None:
    """The highest load at which the criteria still hold, for the seed's thresholds and for
    the lab's targets, found by short judged runs (stepping up, then bisecting).

    Writes reports/<time>_capacity_<scenario>/ (capacity.json, index.html, each step's run
    folder under steps/). Exit 0 when the search bracketed both capacities or ran out of
    budget; 1 when it could not run.
    """
    from lab.pipeline.capacity import CapacitySearch, check_search, search_capacity
    from lab.report.growth_page import write_capacity_report
    from lab.report.trends import update_index
    from lab.runfolder import new_run_folder

    search = run_action(lambda: check_search(CapacitySearch(
        base=RunConfig.build(scenario=scenario, spawn_rate=spawn_rate, scale=scale,
                             strategy=strategy, db=db, api_workers=api_workers,
                             locust_workers=locust_workers, reports_dir=reports,
                             thresholds=options.thresholds(threshold or []),
                             connection_check=False),
        start_users=start_users, factor=factor, precision=precision,
        window_s=options.duration_s(window, "--window"),
        budget_s=options.duration_s(budget, "--budget"))))
    folder = new_run_folder(reports, "capacity", scenario, time.time())
    console.print(f"capacity search in {folder} (budget {search.budget_s:.0f} s)")
    try:
        with stop_on_sigterm(), progress_bars() as reporter:
            study = run_action(lambda: search_capacity(search, folder, get_settings(),
                                                       reporter, timed_say()))
    except KeyboardInterrupt:
        err_console.print("interrupted: the steps so far are in capacity.json")
        write_capacity_report(folder)
        raise typer.Exit(EXIT_INTERRUPTED) from None
    page = run_action(lambda: write_capacity_report(folder))
    update_index(reports)
    print_capacity(folder)
    console.print(f"stopped: {study.stopped_because}\nreport: {page}")
    raise typer.Exit(EXIT_PASSED if study.outcomes else EXIT_ERROR)


@app.command(rich_help_panel="Growth")
def scaling(scale: ScaleOption = "small",
            sizes: Annotated[str, typer.Option(
                help="Datasets of the size curve (each seeded once, then copied); medium "
                     "takes minutes to seed the first time.")] = "tiny,small",
            strategies: Annotated[str, typer.Option(help="Timeline strategies to draw.")]
            = "pull,push,hybrid",
            follows: Annotated[str, typer.Option(
                help="Follow counts of the probe readers (those the dataset can hold).")]
            = "10,100,500,1000,2000,5000",
            http: Annotated[bool, typer.Option(
                help="Also time each probe over HTTP and measure the visibility lag.")] = True,
            db: DbOption = None,
            reports: ReportsOption = Path("reports")) -> None:
    """Cost curves: home timeline against follows, posting against followers (with the
    visibility lag of each fan-out mode), both against dataset size; log-log, fitted.

    Writes reports/<time>_scaling_<scale>/ (scaling.json, index.html).
    """
    from lab.report.growth_page import write_scaling_report
    from lab.report.trends import update_index
    from lab.runconfig import check_strategy
    from lab.runfolder import new_run_folder
    from lab.scaling.study import ScalingConfig, run_scaling

    def build() -> ScalingConfig:
        from lab.seed.scales import get_scale
        chosen = tuple(options.words(sizes))
        for name in (scale, *chosen):
            get_scale(name)
        return ScalingConfig(scale=scale, sizes=chosen,
                             strategies=tuple(check_strategy(s) for s in options.words(strategies)),
                             follows=tuple(options.whole_numbers(follows, "--follows")),
                             http=http)

    config = run_action(build)
    folder = new_run_folder(reports, "scaling", scale, time.time())
    try:
        with stop_on_sigterm(), progress_bars() as reporter:
            document = run_action(lambda: run_scaling(config, folder, db, get_settings(),
                                                      reporter, timed_say()))
    except KeyboardInterrupt:
        err_console.print("interrupted: everything the study started has been stopped")
        raise typer.Exit(EXIT_INTERRUPTED) from None
    page = run_action(lambda: write_scaling_report(folder))
    update_index(reports)
    for group in document["groups"]:
        console.print(f"[bold]{group['title']}[/]")
        for entry in group["curves"]:
            fit = entry["fit"]
            points = ", ".join(f"{p['x']:,}: {p['ms']:.2f}" for p in entry["points"])
            console.print(f"  {entry['label']:32} "
                          f"{'exponent ' + format(fit['exponent'], '.2f') if fit else 'no fit':16}"
                          f" ms at {points}")
    console.print(f"report: {page}")
