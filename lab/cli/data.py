"""`lab seed`, `lab credentials` and `lab check`: the dataset, its tokens, its integrity."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from lab.cli.app import app
from lab.cli.options import DatabaseOption, DbOption, ReportsOption
from lab.cli.output import console, progress_bars, run_action
from lab.cli.tables import print_facts, print_integrity
from lab.config import get_settings
from lab.runconfig import DEFAULT_SEED, check_strategy
from lab.verdicts import EXIT_CRITERION_FAILED

if TYPE_CHECKING:
    from psycopg import Connection


@app.command(rich_help_panel="The dataset")
def seed(scale: Annotated[str, typer.Option(help="tiny, small, medium or large.")] = "small",
         seed_value: Annotated[int, typer.Option("--seed", help="Random seed.")] = DEFAULT_SEED,
         database: DatabaseOption = None, db: DbOption = None,
         rebuild: Annotated[bool, typer.Option(
             help="Rebuild the template even if one exists for this key.")] = False,
         graph: Annotated[bool, typer.Option(
             help="Measure the graph's shape (reciprocity, degree distributions, tweet kinds) "
                  "beside a real follow graph's and write its report page.")] = True,
         reports: ReportsOption = Path("reports")) -> None:
    """Seed a social graph (once per scale/seed/schema) and give DATABASE a fresh copy of it."""
    from lab.pg.databases import drop_database
    from lab.pg.source import open_server
    from lab.seed.scales import get_scale
    from lab.seed.template import ensure_template, fresh_copy, read_facts

    def action() -> None:
        settings = get_settings()
        chosen = get_scale(scale)
        name = database or settings.db_name
        with open_server(db, settings) as server:
            # The copy is replaced whatever happens next; dropped first, its disk is free
            # for a template being built (at a million users, a copy is some 30 GB).
            drop_database(server, name)
            with progress_bars() as reporter:
                result = ensure_template(server, chosen, seed_value, reporter, rebuild=rebuild)
            if result.built and result.load:
                console.print(f"seeded template {result.template}: "
                              f"{result.load.total_rows:,} rows in {result.seconds:.1f} s "
                              f"({result.rows_per_s:,.0f} rows/s), peak memory "
                              f"{result.peak_memory_bytes / 2**30:.2f} GiB")
            else:
                console.print(f"reusing template {result.template}")
            copy_seconds = fresh_copy(server, result.template, name)
            console.print(f"fresh copy {name} in {copy_seconds:.1f} s")
            print_facts(read_facts(server, name))
            if graph:
                with server.connect(name) as conn:
                    page = write_graph(conn, chosen.name, seed_value, reports)
                console.print(f"graph report: {page}")
    run_action(action)


def write_graph(conn: Connection, scale: str, seed_value: int, reports: Path) -> Path:
    """Measure the seeded graph, print it beside the published figures, write its page."""
    import time

    from lab.growth import GRAPH_FILE, write_document
    from lab.report.growth_page import write_graph_report
    from lab.report.trends import update_index
    from lab.runfolder import new_run_folder, utc_stamp
    from lab.seed.graph_stats import graph_stats

    stats = graph_stats(conn)
    published = stats["published"]
    fit = stats["following"]["fit"]
    console.print(
        f"graph: reciprocity {stats['reciprocal_pairs']:.1%} of linked pairs (published "
        f"{published['reciprocal_pairs']:.1%}), {stats['reciprocal_edges']:.1%} of edges; "
        f"following exponent {fit['alpha'] if fit else '-'} over x >= "
        f"{fit['x_min'] if fit else '-'} (published {published['following_alpha']}); "
        f"replies {stats['reply_share']:.1%}, retweets {stats['retweet_share']:.1%} of tweets")
    folder = new_run_folder(reports, "graph", scale, time.time())
    write_document(folder, GRAPH_FILE, {"kind": "graph", "scale": scale, "seed": seed_value,
                                        "started_at": utc_stamp(), "graph": stats})
    page = write_graph_report(folder)
    update_index(reports)
    return page


@app.command(rich_help_panel="The dataset")
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
    run_action(action)


@app.command(rich_help_panel="The dataset")
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
        check_strategy(strategy)
        settings = get_settings()
        with open_server(db, settings) as server, server.connect(
                database or settings.db_name) as conn:
            results = run_checks(conn, strategy)
        print_integrity(results, strategy)
        return sum(r.violations for r in results)
    if run_action(action):
        raise typer.Exit(EXIT_CRITERION_FAILED)
