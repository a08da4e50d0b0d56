"""`lab connections` (SC4), `lab bench api` and `lab explain`: experiments beside the load runs."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any

import typer

from lab.cli import options
from lab.cli.app import app, bench_app
from lab.cli.options import (
    ApiWorkersOption,
    DatabaseOption,
    DbOption,
    ReportsOption,
    ScaleOption,
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
from lab.cli.tables import (
    print_bench_profiles,
    print_bench_summary,
    print_connection_table,
    print_naive_comparison,
    print_plans,
)
from lab.config import get_settings
from lab.runconfig import DEFAULT_SEED, ConnectionsConfig, check_strategy
from lab.verdicts import EXIT_CRITERION_FAILED, EXIT_INTERRUPTED, EXIT_PASSED, PASS


@app.command(rich_help_panel="Experiments")
def connections(
        levels: Annotated[str, typer.Option(help="Concurrent clients per level.")]
        = "10,50,100,250,500,1000",
        duration: Annotated[str, typer.Option(help="Length of each level: 20, 20s, 1m.")] = "20s",
        rounds: Annotated[int, typer.Option(
            min=1, help="Measure every level this many times, interleaved, and judge on "
                        "the medians.")] = 1,
        paths: Annotated[str, typer.Option(
            help="direct (a session per client), api (HTTP to lab serve and its pool), "
                 "pgbouncer (transaction pooling).")] = "direct,api,pgbouncer",
        modes: Annotated[str, typer.Option(
            help="paced (each client at --pace) and/or saturating (no pause).")]
        = "paced,saturating",
        query: Annotated[str, typer.Option(help="home_timeline, profile or mixed.")]
        = "home_timeline",
        pace: Annotated[float, typer.Option(
            help="Paced mode: requests per second per client (0.25: one every 4 s).")] = 0.25,
        scale: ScaleOption = "small",
        strategy: StrategyOption = "push",
        api_workers: ApiWorkersOption = options.DEFAULT_API_WORKERS,
        db: DbOption = None,
        reports: ReportsOption = Path("reports")) -> None:
    """SC4: the same workload at rising concurrency, direct vs the API's pool vs PgBouncer.

    Writes reports/<time>_connections_<query>/ (connections.json, index.html). Exit
    status 0 when SC4 holds on some path at the highest level, 2 when it does not.
    """
    from lab.connections.experiment import missing_tools, run_experiment
    from lab.load.database import run_database
    from lab.report.connections_page import write_connections_report
    from lab.report.trends import update_index

    config = run_action(lambda: ConnectionsConfig.build(
        levels=options.whole_numbers(levels, "--levels"),
        duration_s=options.duration_s(duration, "--duration"), rounds=rounds,
        paths=options.words(paths), modes=options.words(modes), query=query, pace_per_s=pace,
        api_workers=api_workers))
    checked = run_action(lambda: check_strategy(strategy))

    def action() -> tuple[dict[str, Any], Path]:
        settings, say = get_settings(), timed_say()
        for line in missing_tools(config):
            say(line)
        folder = reports / time.strftime(f"%Y%m%dT%H%M%SZ_connections_{config.query}",
                                          time.gmtime())
        with progress_bars() as reporter, run_database(db, scale, DEFAULT_SEED, False, settings,
                                                       reporter, say) as database:
            document = run_experiment(config, checked, database, settings, folder, say)
        return document, write_connections_report(folder)

    try:
        with stop_on_sigterm():
            document, page = run_action(action)
    except KeyboardInterrupt:
        err_console.print("interrupted: everything the experiment started has been stopped")
        raise typer.Exit(EXIT_INTERRUPTED) from None
    print_connection_table(document)
    console.print(f"report: {page}\nindex: {run_action(lambda: update_index(reports))}")
    raise typer.Exit(EXIT_PASSED if document["sc4"]["status"] == PASS
                     else EXIT_CRITERION_FAILED)


@bench_app.command("api")
def bench_api(strategies: Annotated[str, typer.Option(help="Comma-separated strategies.")]
              = "pull,push,hybrid",
              seconds: Annotated[int, typer.Option(min=1, help="Length of each load.")] = 10,
              connections: Annotated[int, typer.Option(
                  min=1, help="pgbench clients; HTTP saturation uses twice as many.")] = 4,
              moderate: Annotated[int, typer.Option(
                  min=1, help="HTTP connections for the latency targets.")] = 2,
              port: Annotated[int, typer.Option(help="Port for the API processes.")] = 8790,
              profile: Annotated[bool, typer.Option(
                  help="Sample the API with py-spy during each HTTP load: a flame graph and "
                       "the functions by own time per load, in a folder beside the results."
                  )] = False,
              database: DatabaseOption = None, db: DbOption = None) -> None:
    """pgbench on the exact SQL vs HTTP on the endpoint, per strategy, in one run."""
    from lab.bench import Measure, results_path, write_results
    from lab.bench import bench_api as run_bench
    from lab.pg.source import open_server

    def show(m: Measure) -> None:
        cpu = f"  API CPU {m.api_cpu_ms:.3f} ms/answer" if m.api_cpu_ms is not None else ""
        latency = (f"p50 {m.p50_ms:7.2f} ms  p99 {m.p99_ms:7.2f} ms" if not m.note
                   else "latency not measured")
        console.print(f"  {m.name:14} {m.strategy:7} {m.tool:8} c={m.connections:<3} "
                      f"{m.per_s:9.1f}/s  {latency}"
                      f"{cpu}{'  errors ' + str(m.errors) if m.errors else ''}")
        if m.note:
            console.print(f"    {m.note}")

    def action() -> None:
        settings = get_settings()
        chosen = [check_strategy(name) for name in options.words(strategies)]
        path = results_path(Path("reports"))
        profiles = path.with_suffix("") if profile else None
        with open_server(db, settings) as server:
            measures = run_bench(server, database or settings.db_name, chosen, seconds,
                                 connections, moderate, port, show, profiles)
        print_bench_summary(measures, connections * 2, moderate)
        if profiles is not None:
            print_bench_profiles(profiles)
        console.print(f"results: {write_results(measures, path)}")
    run_action(action)


@app.command(rich_help_panel="Experiments")
def explain(names: Annotated[list[str] | None, typer.Argument(
                help="Statements to explain (default: every statement the load runs); named "
                     "ones are also printed here.")] = None,
            strategy: StrategyOption = "push",
            user: Annotated[int | None, typer.Option(
                help="Power reader to explain with (default: the seeded user following the "
                     "most).")] = None,
            compare_naive: Annotated[bool, typer.Option(
                help="Also build the beginner's schema (schema/variants/naive.sql) from the same "
                     "data, in a transaction that is rolled back, and compare.")] = False,
            reports: ReportsOption = Path("reports"),
            database: DatabaseOption = None, db: DbOption = None) -> None:
    """Capture EXPLAIN (ANALYZE, BUFFERS) of every statement with representative users, find
    optimization opportunities and write a report page, without a load run."""
    from lab.pg.source import open_server
    from lab.plans.document import plan_document
    from lab.plans.naive import naive_comparison
    from lab.report.explain_page import explain_folder, write_explain_page

    checked = run_action(lambda: check_strategy(strategy))

    def action() -> tuple[dict[str, Any], Path]:
        settings = get_settings()
        name = database or settings.db_name
        with open_server(db, settings) as server, server.connect(name) as conn:
            say = timed_say()
            plans = plan_document(conn, checked, settings, user=user, names=names, say=say)
            if compare_naive:
                say("naive schema: copying the data into its tables, then explaining")
                plans["naive"] = naive_comparison(conn, plans)
        return plans, write_explain_page(explain_folder(reports, checked), plans, name)

    plans, page = run_action(action)
    print_plans(plans, show_trees=bool(names))
    if "naive" in plans:
        print_naive_comparison(plans["naive"])
    console.print(f"report: {page}")
