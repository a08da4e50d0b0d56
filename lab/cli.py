"""The `lab` command: database lifecycle, migrations, seeding and plans."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, NoReturn, TypeVar

import psycopg
import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from lab.config import get_settings
from lab.errors import LabError, first_line
from lab.seed.load import LOADED_TABLES, Reporter

app = typer.Typer(help="timeline-lab: load-testing and performance lab for a Twitter-like "
                       "PostgreSQL backbone.", no_args_is_help=True, add_completion=False)
db_app = typer.Typer(help="The embedded PostgreSQL 18 server.", no_args_is_help=True)
app.add_typer(db_app, name="db")
bench_app = typer.Typer(help="Benchmarks.", no_args_is_help=True)
app.add_typer(bench_app, name="bench")
# Piped output (CI logs, nightly runs) gets wide tables instead of 80 columns.
console = Console(soft_wrap=True, width=None if sys.stdout.isatty() else 160)
err_console = Console(stderr=True, soft_wrap=True)

DbOption = Annotated[str | None, typer.Option(
    "--db", help="embedded (default), testcontainers, or a postgresql:// URL. "
                 "Default: LAB_DATABASE_URL if set, else embedded.")]
DatabaseOption = Annotated[str | None, typer.Option(
    "--database", help="Database to use on the server (default LAB_DB_NAME, timeline_lab).")]

# Options shared by `lab run` and `lab ui` (the same set-up before the load).
ScenarioOption = Annotated[str, typer.Option(
    help="mixed, posting, registration, storm, timeline or viral (locustfiles/scenarios.toml).")]
UsersOption = Annotated[int, typer.Option(min=1, help="Concurrent simulated users.")]
SpawnRateOption = Annotated[float, typer.Option(min=0.1, help="Users started per second.")]
ScaleOption = Annotated[str, typer.Option(help="Dataset: tiny, small, medium, large.")]
StrategyOption = Annotated[str, typer.Option(help="Home timelines: pull, push or hybrid.")]
ApiWorkersOption = Annotated[int, typer.Option(min=1, help="uvicorn worker processes.")]
LocustWorkersOption = Annotated[int, typer.Option(
    min=0, help="Locust worker processes (0: one process; N: a master and N workers over "
                "loopback).")]
ReportsOption = Annotated[Path, typer.Option(help="Where run folders are written.")]
STRATEGIES = ("pull", "push", "hybrid")

T = TypeVar("T")


def _run(action: Callable[[], T]) -> T:
    """Turn expected failures into one clean line on stderr and exit status 1.

    LabError is a failure the user can act on; a lost connection is the
    server's doing, not a bug. Anything else keeps its traceback.
    """
    try:
        return action()
    except LabError as exc:
        _fail(str(exc))
    except psycopg.OperationalError as exc:
        _fail(f"lost the database: {first_line(exc)}")
    raise AssertionError("unreachable")


def _check_strategy(strategy: str) -> str:
    if strategy not in STRATEGIES:
        raise LabError(f"--strategy {strategy!r}: use pull, push or hybrid")
    return strategy


def _timed_say() -> Callable[[str], None]:
    """Progress lines prefixed with the seconds since the command started."""
    started = time.monotonic()

    def say(message: str) -> None:
        console.print(f"[dim]{time.monotonic() - started:6.1f} s[/] {message}")
    return say


def _fail(message: str) -> NoReturn:
    err_console.print(Text("error: ", style="bold red") + Text(message))
    raise typer.Exit(1)


def _embedded() -> Any:
    from lab.pg.embedded import EmbeddedPostgres

    settings = get_settings()
    return EmbeddedPostgres(settings.embedded_pgdata, settings.pg_port)


# -- lab db ---------------------------------------------------------------------


@db_app.command("start")
def db_start() -> None:
    """Start the embedded server (initializing it on first use); harmless if running."""
    def action() -> None:
        embedded = _embedded()
        started = time.perf_counter()
        fresh = embedded.start()
        server = embedded.server()
        state = f"started in {time.perf_counter() - started:.1f} s" if fresh else "already running"
        console.print(f"PostgreSQL {server.server_version()} {state}: "
                      f"{server.display_url()} (data in {embedded.pgdata})")
    _run(action)


@db_app.command("stop")
def db_stop() -> None:
    """Stop the embedded server and wait until no server process is left."""
    def action() -> None:
        stopped = _embedded().stop()
        console.print("stopped" if stopped else "not running")
    _run(action)


@db_app.command("status")
def db_status() -> None:
    """Show whether the embedded server is initialized and running; exit 3 when stopped."""
    def action() -> None:
        status = _embedded().status()
        state = f"running (pid {status.pid}, port {status.port})" if status.running else "stopped"
        console.print(f"embedded PostgreSQL: {state}; data folder {status.pgdata} "
                      f"({'initialized' if status.initialized else 'not initialized'})")
        if not status.running:
            raise typer.Exit(3)
    _run(action)


@db_app.command("url")
def db_url(database: DatabaseOption = None, db: DbOption = None) -> None:
    """Print the connection URL of the lab's database (for psql, pgbench, notebooks)."""
    from lab.pg.source import choose_source, url_server

    def action() -> None:
        settings = get_settings()
        source = choose_source(db, settings)
        name = database or settings.db_name
        if source.kind == "url":
            assert source.url is not None
            print(url_server(source.url).display_url(name))
        elif source.kind == "embedded":
            print(_embedded().server().display_url(name))
        else:
            raise LabError("a testcontainers server exists only while a lab command runs")
    _run(action)


@db_app.command("psql", context_settings={"allow_extra_args": True,
                                          "ignore_unknown_options": True})
def db_psql(ctx: typer.Context, database: DatabaseOption = None) -> None:
    """Open psql (PostgreSQL 18's) on the lab's database; extra arguments go to psql."""
    from lab.pg.embedded import bin_dir

    def action() -> None:
        settings = get_settings()
        server = _embedded().server()
        psql = str(bin_dir() / "psql")
        args = [psql, server.display_url(database or settings.db_name), *ctx.args]
        sys.stdout.flush()
        os.execv(psql, args)
    _run(action)


# -- schema ---------------------------------------------------------------------


@app.command()
def migrate(database: DatabaseOption = None, db: DbOption = None,
            variant: Annotated[str | None, typer.Option(
                help="Apply schema/variants/NAME.sql instead (into timeline_lab_NAME by "
                     "default), e.g. the naive design the seed warns against.")] = None) -> None:
    """Create the lab's database if needed and apply pending migrations."""
    from lab.migrate import migrate as apply_migrations
    from lab.pg.source import open_server
    from lab.variants import apply_variant

    def action() -> None:
        settings = get_settings()
        with open_server(db, settings) as server:
            if variant:
                name = database or f"{settings.db_name}_{variant}"
                apply_variant(server, variant, name)
                console.print(f"variant {variant!r} applied to {server.display_url(name)}")
                return
            name = database or settings.db_name
            _ensure_database(server, name)
            with server.connect(name) as conn:
                applied = apply_migrations(conn)
            if applied:
                for m in applied:
                    console.print(f"applied {m.version:04d}_{m.name}")
            else:
                console.print(f"{name}: schema up to date")
    _run(action)


def _ensure_database(server: Any, name: str) -> None:
    from lab.pg.databases import check_lab_name, create_database, database_exists

    check_lab_name(name)
    if not database_exists(server, name):
        create_database(server, name)


@app.command()
def snapshot(db: DbOption = None,
             write: Annotated[bool, typer.Option(help="Write schema/snapshot.txt.")] = False,
             ) -> None:
    """Migrate a scratch database and print (or --write) its normalized schema snapshot."""
    from lab.migrate import migrate as apply_migrations
    from lab.migrate import schema_dir
    from lab.pg.databases import create_database, drop_database
    from lab.pg.source import open_server
    from lab.schema_snapshot import snapshot as take_snapshot

    def action() -> None:
        with open_server(db, get_settings()) as server:
            scratch = "timeline_lab_snapshot"
            drop_database(server, scratch)
            create_database(server, scratch)
            try:
                with server.connect(scratch) as conn:
                    apply_migrations(conn)
                    text = take_snapshot(conn)
            finally:
                drop_database(server, scratch)
        if write:
            path = schema_dir() / "snapshot.txt"
            path.write_text(text)
            console.print(f"wrote {path}")
        else:
            print(text, end="")
    _run(action)


# -- seeding --------------------------------------------------------------------


class RichReporter(Reporter):
    """Show seeding progress: a bar per table load, a line per finished phase."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.task: TaskID | None = None

    def phase(self, name: str, total_rows: int | None = None) -> None:
        if self.task is not None:
            self.progress.remove_task(self.task)
        self.task = self.progress.add_task(name, total=total_rows)

    def advance(self, rows: int) -> None:
        if self.task is not None:
            self.progress.advance(self.task, rows)

    def done(self, name: str, seconds: float) -> None:
        if seconds >= 0.5:
            self.progress.console.print(f"  {name}: {seconds:.1f} s")


@app.command()
def seed(scale: Annotated[str, typer.Option(help="tiny, small, medium or large.")] = "small",
         seed_value: Annotated[int, typer.Option("--seed", help="Random seed.")] = 42,
         database: DatabaseOption = None, db: DbOption = None,
         rebuild: Annotated[bool, typer.Option(
             help="Rebuild the template even if one exists for this key.")] = False) -> None:
    """Seed a social graph (once per scale/seed/schema) and give DATABASE a fresh copy of it."""
    from lab.pg.source import open_server
    from lab.seed.scales import get_scale
    from lab.seed.template import ensure_template, fresh_copy, read_facts

    def action() -> None:
        settings = get_settings()
        chosen = get_scale(scale)
        target = database or settings.db_name
        with open_server(db, settings) as server:
            progress = Progress(TextColumn("  {task.description}"), BarColumn(),
                                TextColumn("{task.completed:,.0f} rows"), TimeElapsedColumn(),
                                console=console, transient=True,
                                disable=not console.is_terminal)  # bars are for terminals
            with progress:
                result = ensure_template(server, chosen, seed_value, RichReporter(progress),
                                         rebuild=rebuild)
            if result.built and result.load:
                console.print(f"seeded template {result.template}: "
                              f"{result.load.total_rows:,} rows in {result.seconds:.1f} s "
                              f"({result.rows_per_s:,.0f} rows/s)")
            else:
                console.print(f"reusing template {result.template}")
            copy_seconds = fresh_copy(server, result.template, target)
            console.print(f"fresh copy {target} in {copy_seconds:.1f} s")
            _print_facts(read_facts(server, target))
    _run(action)


def _print_facts(facts: dict[str, Any]) -> None:
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


# -- the API ----------------------------------------------------------------------


# uvicorn closes an idle keep-alive connection after 5 s by default. A client
# that thinks for about 5 s then sends its next request on a connection the
# server is closing gets no response (seen: 1 post_tweet in ~39,000 requests
# per 2-minute mixed run, with think times of 1-5 s). Idle connections must
# outlive every persona's think time; 75 s is nginx's default.
KEEP_ALIVE_S = 75


@app.command()
def serve(host: Annotated[str, typer.Option(help="Address to bind (loopback by default).")]
          = "127.0.0.1",
          port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
          workers: Annotated[int, typer.Option(min=1, help="uvicorn worker processes, "
                                                           "each with its own pool.")] = 1,
          strategy: Annotated[str | None, typer.Option(
              help="Home timelines: pull, push or hybrid (default LAB_TIMELINE_STRATEGY, "
                   "pull).")] = None,
          database: DatabaseOption = None, db: DbOption = None) -> None:
    """Serve the API (uvicorn, uvloop, httptools) on a migrated, usually seeded, database."""
    import uvicorn

    from lab.migrate import migrate as apply_migrations
    from lab.pg.databases import check_lab_name, database_exists
    from lab.pg.source import open_server

    def action() -> None:
        if strategy is not None:
            os.environ["LAB_TIMELINE_STRATEGY"] = _check_strategy(strategy)
            get_settings.cache_clear()
        settings = get_settings()
        name = check_lab_name(database or settings.db_name)
        with open_server(db, settings) as server:
            if not database_exists(server, name):
                raise LabError(f"database {name} does not exist: run `lab seed` (or `lab "
                               "migrate`) first")
            with server.connect(name) as conn:
                apply_migrations(conn)
            # Workers read their settings from the environment (uvicorn imports
            # the app anew in each); this process's cached copy must see it too.
            os.environ["LAB_API_DSN"] = server.url(name)
            get_settings.cache_clear()
            console.print(f"serving {server.display_url(name)} on http://{host}:{port} "
                          f"({workers} worker{'s' if workers > 1 else ''}, "
                          f"pool {settings.pool_min}-{settings.pool_max} per worker, "
                          f"strategy {settings.timeline_strategy}); docs at /docs")
            uvicorn.run("lab.api.main:app", host=host, port=port, workers=workers,
                        loop="uvloop", http="httptools", log_level="warning",
                        access_log=False, timeout_keep_alive=KEEP_ALIVE_S)
    _run(action)


@bench_app.command("api")
def bench_api(strategies: Annotated[str, typer.Option(help="Comma-separated strategies.")]
              = "pull,push,hybrid",
              seconds: Annotated[int, typer.Option(min=1, help="Length of each load.")] = 10,
              connections: Annotated[int, typer.Option(
                  min=1, help="pgbench clients; HTTP saturation uses twice as many.")] = 4,
              moderate: Annotated[int, typer.Option(
                  min=1, help="HTTP connections for the latency targets.")] = 2,
              port: Annotated[int, typer.Option(help="Port for the API processes.")] = 8790,
              database: DatabaseOption = None, db: DbOption = None) -> None:
    """pgbench on the exact SQL vs HTTP on the endpoint, per strategy, in one run."""
    from lab.bench import bench_api as run_bench
    from lab.bench import write_results
    from lab.pg.source import open_server

    def show(m: Any) -> None:
        console.print(f"  {m.name:14} {m.strategy:7} {m.tool:8} c={m.connections:<3} "
                      f"{m.per_s:9.1f}/s  p50 {m.p50_ms:7.2f} ms  p99 {m.p99_ms:7.2f} ms"
                      f"{'  errors ' + str(m.errors) if m.errors else ''}")

    def action() -> None:
        settings = get_settings()
        chosen = _csv(strategies)
        unknown = set(chosen) - {"pull", "push", "hybrid"}
        if unknown:
            raise LabError(f"unknown strategies {sorted(unknown)}: use pull, push, hybrid")
        with open_server(db, settings) as server:
            measures = run_bench(server, database or settings.db_name, chosen, seconds,
                                 connections, moderate, port, show)
        _print_bench_summary(measures, connections * 2, moderate)
        console.print(f"results: {write_results(measures, Path('reports'))}")
    _run(action)


def _print_bench_summary(measures: list[Any], saturated: int, moderate: int) -> None:
    table = Table(title="HTTP vs pgbench (same SQL)")
    for column in ("operation", "strategy", "pgbench /s", "HTTP /s", "HTTP/pgbench",
                   f"HTTP p50 ms (c={moderate})", f"HTTP p99 ms (c={moderate})", "p99 < 20 ms"):
        table.add_column(column)
    by_key = {(m.name, m.strategy, m.tool, m.connections): m for m in measures}
    for m in measures:
        if m.tool != "http" or m.connections != moderate:
            continue
        pg = next((x for x in measures if x.tool == "pgbench" and x.name == m.name
                   and x.strategy == m.strategy), None)
        busy = by_key.get((m.name, m.strategy, "http", saturated))
        ratio = f"{busy.per_s / pg.per_s:.2f}" if pg and busy else "-"
        table.add_row(m.name, m.strategy, f"{pg.per_s:,.0f}" if pg else "-",
                      f"{busy.per_s:,.0f}" if busy else f"{m.per_s:,.0f}", ratio,
                      f"{m.p50_ms:.2f}", f"{m.p99_ms:.2f}", "yes" if m.p99_ms < 20 else "no")
    console.print(table)


# -- plans ------------------------------------------------------------------------


@app.command()
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
    from lab.plans.evidence import plan_evidence
    from lab.plans.naive import naive_evidence
    from lab.report.explain_page import explain_folder, write_explain_page

    checked = _run(lambda: _check_strategy(strategy))

    def action() -> tuple[dict[str, Any], Path]:
        settings = get_settings()
        name = database or settings.db_name
        with open_server(db, settings) as server, server.connect(name) as conn:
            say = _timed_say()
            plans = plan_evidence(conn, checked, settings, user=user, names=names, say=say)
            if compare_naive:
                say("naive schema: copying the data into its tables, then explaining")
                plans["naive"] = naive_evidence(conn, plans)
        return plans, write_explain_page(explain_folder(reports, checked), plans, name)

    plans, page = _run(action)
    print_plans(plans, show_trees=bool(names))
    if "naive" in plans:
        print_naive_comparison(plans["naive"])
    console.print(f"report: {page}")


def print_plans(plans: dict[str, Any], show_trees: bool) -> None:
    """Each statement's execution time and findings; with `show_trees`, its plan too."""
    from lab.plans.tree import rows

    findings: dict[str, int] = {}
    for finding in plans["findings"]:
        findings[finding["statement"]] = findings.get(finding["statement"], 0) + 1
    table = Table("statement", "persona", "execution ms", "findings", box=None)
    for captured in plans["plans"]:
        time_text = (f"{captured['execution_ms']:.3f}" if "execution_ms" in captured
                     else f"[red]{captured.get('error', '?').splitlines()[0]}[/]")
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


# -- reports ------------------------------------------------------------------------


@app.command()
def report(run_folder: Annotated[Path, typer.Argument(
               help="A run folder (reports/<run>) or a `lab connections` folder.")]) -> None:
    """Regenerate a run's HTML report and junit.xml from its folder alone (no database)."""
    from lab.connections.results import RESULTS_FILE
    from lab.report.connections_page import write_connections_report
    from lab.report.run_page import write_run_report
    from lab.report.trends import update_index

    if (run_folder / RESULTS_FILE).exists() and not (run_folder / "summary.json").exists():
        console.print(f"report: {_run(lambda: write_connections_report(run_folder))}")
        return
    page = _run(lambda: write_run_report(run_folder))
    index = _run(lambda: update_index(run_folder.resolve().parent))
    console.print(f"report: {page}\nindex: {index}")


@app.command()
def compare(run_folders: Annotated[list[Path], typer.Argument(
                help="Two or more run folders; the first is the reference.")],
            out: Annotated[Path | None, typer.Option(
                help="Folder of the comparison page (default: reports/compare-<time>).")]
            = None) -> None:
    """Put runs side by side: criteria, latency per request with deltas, plans, charts."""
    from lab.report.compare import compare_runs

    page = _run(lambda: compare_runs(run_folders, out))
    console.print(f"comparison: {page}")


# -- load runs ------------------------------------------------------------------------


def _parse_duration(text: str, option: str) -> int:
    """Seconds from '90', '90s', '2m' or '1h' (Locust's --run-time spelling)."""
    units = {"s": 1, "m": 60, "h": 3600}
    try:
        if text[-1:] in units:
            return int(float(text[:-1]) * units[text[-1]])
        return int(text)
    except ValueError:
        raise LabError(f"{option} {text!r}: use seconds or a number with s, m or h") from None


def _parse_thresholds(items: list[str]) -> dict[str, float]:
    from lab.load.criteria import DEFAULT_THRESHOLDS

    thresholds = {}
    for item in items:
        key, _, value = item.partition("=")
        if key not in DEFAULT_THRESHOLDS or not value:
            raise LabError(f"--threshold {item!r}: use KEY=VALUE with KEY one of "
                           f"{', '.join(DEFAULT_THRESHOLDS)}")
        try:
            thresholds[key] = float(value)
        except ValueError:
            raise LabError(f"--threshold {item!r}: {value!r} is not a number") from None
    return thresholds


def print_verdicts(verdicts: list[Any]) -> None:
    """The compact verdict table of a run."""
    table = Table(title="success criteria")
    for column in ("id", "criterion", "status", "measured", "seed threshold", "lab target"):
        table.add_column(column)
    colours = {"pass": "green", "fail": "bold red"}
    for v in verdicts:
        met = None if v.status == "not in scope" else v.lab_met
        lab_target = v.lab + ("" if met is None else " ✓" if met else " ✗")
        status = Text(v.status, style=colours.get(v.status, "dim"))
        table.add_row(v.id, v.title, status, v.measured + (f" ({v.note})" if v.note else ""),
                      v.seed, lab_target)
    console.print(table)


def print_request_stats(stats: dict[str, Any]) -> None:
    table = Table(title=f"requests ({stats['window']['seconds']:.0f} s, exact percentiles, ms)")
    for column in ("name", "count", "fail", "req/s", "p50", "p95", "p99", "p99.9", "max"):
        table.add_column(column, justify="left" if column == "name" else "right")

    def row(name: str, entry: dict[str, Any]) -> None:
        lat = entry["latency_ms"]
        cells = [lat[k] for k in ("p50", "p95", "p99", "p99_9", "max")]
        table.add_row(name, f"{entry['count']:,}", f"{entry['failures']:,}",
                      f"{entry['rps'] or 0:.1f}",
                      *("-" if c is None else f"{c:.1f}" for c in cells))

    for name, entry in stats["requests"].items():
        row(name, entry)
    for bucket, entry in stats["home_timeline_by_follow_bucket"].items():
        row(f"  home_timeline, follows {bucket}", entry)
    row("all", stats["total"])
    console.print(table)


@app.command("run")
def run_command(
        scenario: ScenarioOption = "mixed",
        users: UsersOption = 1000,
        spawn_rate: SpawnRateOption = 100.0,
        run_time: Annotated[str, typer.Option(help="Load duration: 90, 90s, 2m.")] = "2m",
        scale: ScaleOption = "small",
        strategy: StrategyOption = "push",
        db: DbOption = None,
        api_workers: ApiWorkersOption = 1,
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
        connections: Annotated[bool, typer.Option(
            help="After the load, run the connection experiment (SC4, as `lab connections` "
                 "with its defaults) on the run database; its section joins the report.")]
        = False,
        connection_levels: Annotated[str, typer.Option(
            help="With --connections: concurrent clients per level.")]
        = "10,50,100,250,500,1000",
        connection_duration: Annotated[str, typer.Option(
            help="With --connections: length of each level.")] = "20s",
        fault: Annotated[list[str] | None, typer.Option(
            help="Break the database mid-run: KIND[@START][+HOLD] with KIND restart-db "
                 "(embedded server only), kill-backends or pool-exhaust, e.g. "
                 "restart-db@30s; repeatable. The report shows the outage, the recovery "
                 "and the acknowledged writes lost.")] = None,
) -> None:
    """Run a load test headless and judge it against the success criteria.

    Exit status: 0 every criterion in scope passed on a valid run; 2 a criterion
    failed; 3 the run is invalid (unexpected failures, or the load generator was
    the bottleneck); 1 the run could not be carried out; 130 interrupted.
    """
    from lab.connections.experiment import ConnectionsConfig
    from lab.load.faults import parse_fault
    from lab.load.run import RunConfig, execute

    experiment = None
    if connections:
        experiment = ConnectionsConfig(
            levels=_run(lambda: _csv_ints(connection_levels, "--connection-levels")),
            duration_s=_run(lambda: _parse_duration(connection_duration,
                                                    "--connection-duration")))
        _run(experiment.check)
    config = RunConfig(
        scenario=scenario, users=users, spawn_rate=spawn_rate,
        run_time_s=_run(lambda: _parse_duration(run_time, "--run-time")), scale=scale,
        strategy=_run(lambda: _check_strategy(strategy)), db=db, api_workers=api_workers,
        locust_workers=locust_workers, tag=tag, shape=shape,
        thresholds=_run(lambda: _parse_thresholds(threshold or [])), strict=strict,
        reports_dir=reports, keep_database=keep_database, connections=experiment,
        faults=_run(lambda: [parse_fault(text) for text in fault or []]))

    def action() -> Any:
        progress = Progress(TextColumn("  {task.description}"), BarColumn(),
                            TextColumn("{task.completed:,.0f} rows"), TimeElapsedColumn(),
                            console=console, transient=True, disable=not console.is_terminal)
        with progress:
            return execute(config, get_settings(), RichReporter(progress), _timed_say())

    strategies = list(STRATEGIES) if compare_strategies else [config.strategy]
    results = []
    try:
        for name in strategies:
            config.strategy = name
            if compare_strategies:
                console.print(f"[bold]strategy {name}[/]")
            result = _run(action)
            print_request_stats(result.summary["stats"])
            print_verdicts(result.verdicts)
            console.print(f"run folder: {result.folder} (exit {result.exit_code})\n"
                          f"report: {result.report}")
            results.append(result)
    except KeyboardInterrupt:
        err_console.print("interrupted: everything the run started has been stopped")
        raise typer.Exit(130) from None
    if compare_strategies:
        from lab.report.compare import compare_runs

        page = _run(lambda: compare_runs([r.folder for r in results]))
        console.print(f"comparison of {', '.join(strategies)}: {page}")
    raise typer.Exit(worst_exit_code([r.exit_code for r in results]))


def worst_exit_code(codes: list[int]) -> int:
    """An invalid run (3) outranks a failed criterion (2), which outranks a pass (0)."""
    return 3 if 3 in codes else 2 if 2 in codes else max(codes, default=0)


def _csv_ints(text: str, option: str) -> list[int]:
    try:
        return [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise LabError(f"{option} {text!r}: give whole numbers separated by commas") from None


def _csv(text: str) -> list[str]:
    return [x.strip() for x in text.split(",") if x.strip()]


@app.command()
def connections(
        levels: Annotated[str, typer.Option(help="Concurrent clients per level.")]
        = "10,50,100,250,500,1000",
        duration: Annotated[str, typer.Option(help="Length of each level: 20, 20s, 1m.")] = "20s",
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
        db: DbOption = None,
        reports: ReportsOption = Path("reports")) -> None:
    """SC4: the same workload at rising concurrency, direct vs the API's pool vs PgBouncer.

    Writes reports/<time>_connections_<query>/ (connections.json, index.html). Exit
    status 0 when SC4 holds on some path at the highest level, 2 when it does not.
    """
    from lab.connections.experiment import ConnectionsConfig, run_experiment
    from lab.load.run import RunConfig, run_target
    from lab.report.connections_page import write_connections_report

    config = ConnectionsConfig(
        levels=_run(lambda: _csv_ints(levels, "--levels")),
        duration_s=_run(lambda: _parse_duration(duration, "--duration")),
        paths=_csv(paths), modes=_csv(modes), query=query, pace_per_s=pace,
        strategy=_run(lambda: _check_strategy(strategy)))
    _run(config.check)

    def action() -> Any:
        from lab.connections.workload import Workload

        Workload(config.query, config.strategy, 1)     # a bad --query fails before any set-up
        say = _timed_say()
        folder = reports / time.strftime(f"%Y%m%dT%H%M%SZ_connections_{config.query}",
                                          time.gmtime())
        setup = RunConfig(scale=scale, strategy=config.strategy, db=db, reports_dir=reports)
        with run_target(setup, get_settings(), Reporter(), say) as target:
            document = run_experiment(config, target, get_settings(), folder, say)
        return document, write_connections_report(folder)

    try:
        document, page = _run(action)
    except KeyboardInterrupt:
        err_console.print("interrupted: everything the experiment started has been stopped")
        raise typer.Exit(130) from None
    print_connection_table(document)
    from lab.report.trends import update_index

    console.print(f"report: {page}\nindex: {_run(lambda: update_index(reports))}")
    raise typer.Exit(0 if document["sc4"]["status"] == "pass" else 2)


def print_connection_table(document: dict[str, Any]) -> None:
    table = Table(title="connections (latency ms)")
    for column in ("mode", "path", "clients", "req/s", "p50", "p95", "p99", "errors",
                   "backends", "PSS MB"):
        table.add_column(column, justify="left" if column in ("mode", "path", "errors")
                         else "right")
    for r in document["results"]:
        if r["status"] != "measured":
            table.add_row(r["mode"], r["path"], f"{r['clients']:,}", "stopped", "", "", "",
                          r["note"], "", "")
            continue
        lat = r["latency_ms"]
        table.add_row(r["mode"], r["path"], f"{r['clients']:,}", f"{r['throughput_per_s']:,.1f}",
                      *("-" if lat[k] is None else f"{lat[k]:,.1f}" for k in ("p50", "p95", "p99")),
                      ", ".join(f"{k} {v:,}" for k, v in r["errors"].items()) or "0",
                      f"{r['backends_max'] or 0:,}",
                      "-" if r["server_pss_mb"] is None else f"{r['server_pss_mb']:,.0f}")
    console.print(table)
    for p in document["paths"]:
        console.print(f"  {p['path']}: paced {p['paced']} ({p['paced_text']}); saturating "
                      f"{p['saturating']} ({p['saturating_text']})")
    sc4 = document["sc4"]
    console.print(f"SC4 {sc4['status']}: {sc4['measured']} ({sc4['note']})")


@app.command()
def ui(scenario: ScenarioOption = "mixed",
       users: UsersOption = 1000,
       spawn_rate: SpawnRateOption = 100.0,
       scale: ScaleOption = "small",
       strategy: StrategyOption = "push",
       db: DbOption = None,
       api_workers: ApiWorkersOption = 1,
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
    from lab.load.run import RunConfig
    from lab.load.ui import serve_ui

    config = RunConfig(scenario=scenario, users=users, spawn_rate=spawn_rate, scale=scale,
                       strategy=_run(lambda: _check_strategy(strategy)), db=db,
                       api_workers=api_workers, locust_workers=locust_workers, tag=tag,
                       reports_dir=reports)
    limit = _run(lambda: _parse_duration(max_session, "--max-session"))

    def action() -> Any:
        return serve_ui(config, get_settings(), Reporter(), _timed_say(), web_port, limit)

    try:
        results = _run(action)
    except KeyboardInterrupt:
        err_console.print("session ended: everything it started has been stopped")
        raise typer.Exit(130) from None
    for result in results:
        console.print(f"{result.folder}: exit {result.exit_code}")


@app.command()
def credentials(out: Annotated[Path, typer.Option(help="Where to write the tokens.")]
                = Path(".lab/credentials.json"),
                database: DatabaseOption = None, db: DbOption = None) -> None:
    """Issue tokens for seeded users and write them for Locust (`locust -f locustfiles/...`)."""
    from lab.load.credentials import issue_credentials, write_credentials
    from lab.pg.source import open_server

    def action() -> None:
        settings = get_settings()
        with open_server(db, settings) as server, server.connect(
                database or settings.db_name) as conn:
            issued = issue_credentials(conn)
        write_credentials(out, issued)
        console.print(f"wrote {out}: {len(issued['power_readers'])} power readers, "
                      f"{len(issued['users'])} users, {len(issued['protected_owners'])} "
                      "protected owners")
    _run(action)


@app.command()
def check(database: DatabaseOption = None, db: DbOption = None,
          strategy: Annotated[str, typer.Option(
              help="The timeline strategy the data was written under: pull leaves "
                   "home_timeline unmaintained, so its checks are skipped.")] = "push") -> None:
    """Audit integrity: mirrors exact, counters equal to their rows, caches visible, no orphans.

    Exits 2 when any check finds a violation.
    """
    from lab.integrity import run_checks
    from lab.pg.source import open_server

    def action() -> int:
        settings = get_settings()
        checked = _check_strategy(strategy)
        with open_server(db, settings) as server, server.connect(
                database or settings.db_name) as conn:
            results = run_checks(conn, checked)
        table = Table(title=f"integrity ({checked})")
        for column in ("check", "violations", "seconds"):
            table.add_column(column)
        for r in results:
            if r.skipped:
                table.add_row(r.name, Text(f"skipped: {r.skipped}", style="dim"), "-")
                continue
            table.add_row(r.name, Text(str(r.violations),
                                       style="green" if r.violations == 0 else "bold red"),
                          f"{r.seconds:.2f}")
        console.print(table)
        return sum(r.violations for r in results)
    if _run(action):
        raise typer.Exit(2)


def main() -> None:  # pragma: no cover - console script entry point
    app()


if __name__ == "__main__":  # pragma: no cover
    main()

