"""`lab db ...` (the embedded server), `lab migrate` and `lab snapshot`."""

from __future__ import annotations

import os
import sys
import time
from typing import Annotated

import typer

from lab.cli.app import app, db_app
from lab.cli.options import DatabaseOption, DbOption
from lab.cli.output import console, run_action
from lab.config import Settings, get_settings
from lab.errors import LabError
from lab.pg.embedded import EmbeddedPostgres
from lab.pg.server import PgServer

STATUS_STOPPED_EXIT = 3     # `lab db status` when no server runs (like `pg_ctl status`)


def embedded(settings: Settings | None = None) -> EmbeddedPostgres:
    settings = settings or get_settings()
    return EmbeddedPostgres(settings.embedded_pgdata, settings.pg_port)


@db_app.command("start")
def db_start() -> None:
    """Start the embedded server (initializing it on first use); harmless if running."""
    def action() -> None:
        server = embedded()
        started = time.perf_counter()
        fresh = server.start()
        handle = server.server()
        state = f"started in {time.perf_counter() - started:.1f} s" if fresh else "already running"
        console.print(f"PostgreSQL {handle.server_version()} {state}: "
                      f"{handle.display_url()} (data in {server.pgdata})")
    run_action(action)


@db_app.command("stop")
def db_stop() -> None:
    """Stop the embedded server and wait until no server process is left."""
    run_action(lambda: console.print("stopped" if embedded().stop() else "not running"))


@db_app.command("status")
def db_status() -> None:
    """Show whether the embedded server is initialized and running; exit 3 when stopped."""
    def action() -> bool:
        status = embedded().status()
        state = f"running (pid {status.pid}, port {status.port})" if status.running else "stopped"
        console.print(f"embedded PostgreSQL: {state}; data folder {status.pgdata} "
                      f"({'initialized' if status.initialized else 'not initialized'})")
        return status.running
    if not run_action(action):
        raise typer.Exit(STATUS_STOPPED_EXIT)


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
            print(embedded(settings).server().display_url(name))
        else:
            raise LabError("a testcontainers server exists only while a lab command runs")
    run_action(action)


@db_app.command("psql", context_settings={"allow_extra_args": True,
                                          "ignore_unknown_options": True})
def db_psql(ctx: typer.Context, database: DatabaseOption = None) -> None:
    """Open psql (PostgreSQL 18's) on the lab's database; extra arguments go to psql."""
    from lab.pg.embedded import bin_dir

    def action() -> None:
        from lab.pg.databases import database_exists

        settings = get_settings()
        psql = str(bin_dir() / "psql")
        server, name = embedded(settings).server(), database or settings.db_name
        if not embedded(settings).status().running:
            raise LabError("the embedded server is not running: `lab db start` first")
        if not database_exists(server, name):
            raise LabError(f"database {name} does not exist yet: run `lab seed` to create "
                           "and seed it (or `lab migrate` for an empty schema)")
        args = [psql, server.display_url(name), *ctx.args]
        sys.stdout.flush()
        os.execv(psql, args)
    run_action(action)


def ensure_database(server: PgServer, name: str) -> None:
    from lab.pg.databases import check_lab_name, create_database, database_exists

    check_lab_name(name)
    if not database_exists(server, name):
        create_database(server, name)


@app.command(rich_help_panel="The database")
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
            ensure_database(server, name)
            with server.connect(name) as conn:
                applied = apply_migrations(conn)
            for m in applied:
                console.print(f"applied {m.version:04d}_{m.name}")
            if not applied:
                console.print(f"{name}: schema up to date")
    run_action(action)


@app.command(rich_help_panel="The database")
def snapshot(db: DbOption = None,
             write: Annotated[bool, typer.Option(help="Write schema/snapshot.txt.")] = False,
             ) -> None:
    """Migrate a scratch database and print (or --write) its normalized schema snapshot."""
    from lab.migrate import migrate as apply_migrations
    from lab.pg.databases import create_database, drop_database
    from lab.pg.source import open_server
    from lab.resources import schema_dir
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
    run_action(action)
