"""`lab run` (headless, judged) and `lab ui` (Locust's web UI, each test judged)."""

from __future__ import annotations

import subprocess
import tempfile
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from lab.cli import options
from lab.cli.app import app
from lab.cli.gating import (
    BaselineOption,
    FailOnOption,
    check_gating,
    gated_if_any,
    record_noise,
)
from lab.cli.options import (
    ApiWorkersOption,
    DbOption,
    LocustWorkersOption,
    ReportsOption,
    ScaleOption,
    ScenarioOption,
    SpawnRateOption,
    StrategyOption,
    UsersOption,
)
from lab.cli.output import (
    console,
    err_console,
    fail,
    progress_bars,
    run_action,
    stop_on_sigterm,
    timed_say,
)
from lab.cli.tables import (
    print_causes,
    print_request_stats,
    print_verdicts,
    print_visibility,
)
from lab.config import get_settings
from lab.errors import LabError
from lab.runconfig import STRATEGIES, ConnectionsConfig, RunConfig
from lab.verdicts import EXIT_INTERRUPTED, worst_exit_code

if TYPE_CHECKING:
    from lab.pipeline.steps import RunResult


@app.command("run", rich_help_panel="Load runs")
def run_command(
        scenario: ScenarioOption = "mixed",
        users: UsersOption = 1000,
        spawn_rate: SpawnRateOption = 100.0,
        run_time: Annotated[str, typer.Option(help="Load duration: 90, 90s, 2m.")] = "2m",
        scale: ScaleOption = "small",
        strategy: StrategyOption = "push",
        db: DbOption = None,
        api_workers: ApiWorkersOption = options.DEFAULT_API_WORKERS,
        locust_workers: LocustWorkersOption = 0,
        shape: Annotated[str | None, typer.Option(
            help="Load shape instead of a flat user count: ramp, steady or spike.")] = None,
        tag: Annotated[str, typer.Option(help="Suffix of the run folder name.")] = "",
        threshold: Annotated[list[str] | None, typer.Option(
            help="Override a seed threshold, e.g. SC1=20 (ms) or SC5_RATE=150 (tweets/s); "
                 "repeatable.")] = None,
        strict: Annotated[bool, typer.Option(
            help="Also fail the run when a lab target (stricter than the seed) is missed.")]
        = False,
        reports: ReportsOption = Path("reports"),
        keep_database: Annotated[bool, typer.Option(
            help="Keep the run's database copy afterwards (for plans, debugging).")] = False,
        compare_strategies: Annotated[bool, typer.Option(
            help="Run once per timeline strategy (pull, push, hybrid) on identical fresh "
                 "copies and write the comparison page.")] = False,
        connections: Annotated[bool | None, typer.Option(
            help="After the load, run the connection experiment (SC4, as `lab connections` "
                 "with its defaults) on the run database; its section joins the report. "
                 "--no-connections skips the check a scenario declares (the seed's) and "
                 "leaves SC4 out of scope. Default: the scenario's.")]
        = None,
        connection_levels: Annotated[str, typer.Option(
            help="With --connections: concurrent clients per level.")]
        = "10,50,100,250,500,1000",
        connection_duration: Annotated[str, typer.Option(
            help="With --connections: length of each level.")] = "20s",
        connection_rounds: Annotated[int, typer.Option(
            min=1, help="With --connections: measure every level this many times, "
                        "interleaved, and judge on the medians.")] = 1,
        fault: Annotated[list[str] | None, typer.Option(
            help="Break the database mid-run: KIND[@START][+HOLD] with KIND restart-db "
                 "(embedded server only), kill-backends, pool-exhaust or lock-row (the hot "
                 "row locked), e.g. restart-db@30s; repeatable. The report shows the outage, "
                 "the recovery and the acknowledged writes lost.")] = None,
        before_load: Annotated[list[str] | None, typer.Option(
            help="SQL to run on the run's fresh copy before the load, e.g. \"DROP INDEX "
                 "tweets_replies_idx\": a what-if experiment without a migration; "
                 "repeatable, recorded in the report.")] = None,
        settle: Annotated[str | None, typer.Option(
            help="Settling time after the spawn ramp; the latency criteria judge what "
                 "follows (default 10 s, or a tenth of --run-time if that is shorter).")]
        = None,
        target: Annotated[str | None, typer.Option(
            help="Drive an API the lab did not start, at this base URL (any `lab serve`); "
                 "--db must then be the postgresql:// URL of the database it serves.")]
        = None,
        master_bind: Annotated[str | None, typer.Option(
            help="Listen for Locust workers from other machines at HOST[:PORT] (default "
                 "port 5557) instead of forking them here; wait for --locust-workers of them "
                 "(start each with `lab worker --master HOST:PORT`).")] = None,
        workers_wait: Annotated[str, typer.Option(
            help="With --master-bind: how long to wait for the workers to join.")] = "2m",
        profile: Annotated[bool, typer.Option(
            help="Sample the API workers and the Locust processes with py-spy over the "
                 "measurement window: flame graphs and the functions by own time on the "
                 "page, with what the profiling cost.")] = False,
        baseline: BaselineOption = None,
        fail_on: FailOnOption = None,
        repeat: Annotated[int, typer.Option(
            min=1, help="Run the same configuration this many times, each on an identical "
                        "fresh copy (A/A), and record the run-to-run spread of every trended "
                        "metric: the noise floor reports/index.html draws and flags against.")]
        = 1,
) -> None:
    """Run a load test headless and judge it against the success criteria.

    Exit status: 0 every criterion in scope passed on a valid run; 2 a criterion
    failed; 3 the run is invalid (unexpected failures, or the load generator was
    the bottleneck); 4 the criteria passed but a regression gate (--fail-on) failed;
    1 the run could not be carried out; 130 interrupted.
    """
    from lab.pipeline.headless import run_headless

    def build() -> RunConfig:
        experiment = None
        if connections:
            experiment = ConnectionsConfig.build(
                levels=options.whole_numbers(connection_levels, "--connection-levels"),
                duration_s=options.duration_s(connection_duration, "--connection-duration"),
                rounds=connection_rounds)
        return RunConfig.build(
            scenario=scenario, users=users, spawn_rate=spawn_rate,
            run_time_s=options.duration_s(run_time, "--run-time"), scale=scale,
            strategy=strategy, db=db, api_workers=api_workers, locust_workers=locust_workers,
            tag=tag, shape=shape, thresholds=options.thresholds(threshold or []),
            strict=strict, reports_dir=reports, keep_database=keep_database,
            connection_experiment=experiment, connection_check=connections is not False,
            faults=fault or [],
            settle_s=None if settle is None else options.duration_s(settle, "--settle"),
            before_load=before_load or [], target=target, master_bind=master_bind,
            workers_wait_s=options.duration_s(workers_wait, "--workers-wait"), profile=profile)

    config = run_action(build)
    run_action(lambda: check_gating(baseline, fail_on))
    if repeat > 1 and compare_strategies:
        fail("--repeat and --compare-strategies do not go together: repeat one strategy")
    configs = ([run_action(partial(config.varied, strategy=name)) for name in STRATEGIES]
               if compare_strategies else [config] * repeat)
    codes: list[int] = []
    settings = get_settings()
    results: list[RunResult] = []
    try:
        for each in configs:
            if compare_strategies:
                console.print(f"[bold]strategy {each.strategy}[/]")
            elif repeat > 1:
                console.print(f"[bold]run {len(results) + 1} of {repeat}[/]")
            with stop_on_sigterm(), progress_bars() as reporter:
                result = run_action(partial(run_headless, each, settings, reporter,
                                            timed_say()))
            print_request_stats(result.summary.stats)
            print_causes(result.summary.attribution)
            print_visibility(result.summary.visibility)
            print_verdicts(result.summary.criteria)
            code = result.exit_code
            if baseline is not None and fail_on is not None:
                code = gated_if_any(result.folder, baseline, fail_on, code)
            console.print(f"run folder: {result.folder} (exit {code})\n"
                          f"report: {result.report}")
            results.append(result)
            codes.append(code)
    except KeyboardInterrupt:
        err_console.print("interrupted: everything the run started has been stopped")
        raise typer.Exit(EXIT_INTERRUPTED) from None
    if compare_strategies:
        from lab.report.compare import compare_runs

        page = run_action(lambda: compare_runs([r.folder for r in results])).page
        console.print(f"comparison of {', '.join(STRATEGIES)}: {page}")
    if repeat > 1:
        record_noise([r.folder for r in results])
    raise typer.Exit(worst_exit_code(codes))


@app.command(rich_help_panel="Load runs")
def ui(scenario: ScenarioOption = "mixed",
       users: UsersOption = 1000,
       spawn_rate: SpawnRateOption = 100.0,
       scale: ScaleOption = "small",
       strategy: StrategyOption = "push",
       db: DbOption = None,
       api_workers: ApiWorkersOption = options.DEFAULT_API_WORKERS,
       locust_workers: LocustWorkersOption = 0,
       web_port: Annotated[int, typer.Option(help="Port of the web UI on 127.0.0.1.")] = 8089,
       max_session: Annotated[str, typer.Option(
           help="End the session after this long (the UI never runs unattended forever).")]
       = "1h",
       tag: Annotated[str, typer.Option(help="Suffix of each test's run folder.")] = "ui",
       reports: ReportsOption = Path("reports")) -> None:
    """Locust's web UI on a fresh database copy, with a live success-criteria tab.

    Each test you stop in the UI is judged and written as a run folder, like `lab run`.
    """
    from lab.pipeline.ui import serve_ui

    config = run_action(lambda: RunConfig.build(
        scenario=scenario, users=users, spawn_rate=spawn_rate, scale=scale, strategy=strategy,
        db=db, api_workers=api_workers, locust_workers=locust_workers, tag=tag,
        reports_dir=reports))
    limit = run_action(lambda: options.duration_s(max_session, "--max-session"))
    try:
        with stop_on_sigterm(), progress_bars() as reporter:
            results = run_action(lambda: serve_ui(config, get_settings(), reporter,
                                                  timed_say(), web_port, limit))
    except KeyboardInterrupt:
        err_console.print("session ended: everything it started has been stopped")
        raise typer.Exit(EXIT_INTERRUPTED) from None
    for result in results:
        console.print(f"{result.folder}: exit {result.exit_code}")


@app.command("worker", rich_help_panel="Load runs")
def worker_command(
        master: Annotated[str, typer.Option(
            help="HOST[:PORT] of the run's Locust master (`lab run --master-bind`).")],
        processes: Annotated[int, typer.Option(
            min=1, help="Locust worker processes to start on this machine.")] = 1,
) -> None:
    """Join a run's load from this machine as Locust worker(s).

    The master sends the scenario, the credentials and the run's options; this
    machine needs the lab installed, nothing else. Every request recorded here
    is sent to the master's run folder. Gives up after 5 minutes without a
    master, and ends with the run.
    """
    from lab.processes import worker_command as locust_worker

    host, port = run_action(lambda: master_address_of(master))
    argv, env = locust_worker(host, port, processes)
    console.print(f"joining the master at {host}:{port} with {processes} worker process(es)")
    with tempfile.TemporaryDirectory(prefix="lab-worker-") as where:
        code = subprocess.call(argv, env=env, cwd=where, stdin=subprocess.DEVNULL)
    raise typer.Exit(code)


def master_address_of(text: str) -> tuple[str, int]:
    """`HOST[:PORT]` checked as `lab run --master-bind` checks it."""
    from lab.runconfig import master_address

    try:
        return master_address(text)
    except ValueError as exc:
        raise LabError(str(exc).replace("--master-bind", "--master")) from None
