"""The Typer applications every command module registers with."""

from __future__ import annotations

import typer

app = typer.Typer(help="timeline-lab: load-testing and performance lab for a Twitter-like "
                       "PostgreSQL backbone.", no_args_is_help=True, add_completion=False)
db_app = typer.Typer(help="The embedded PostgreSQL 18 server.", no_args_is_help=True)
app.add_typer(db_app, name="db", rich_help_panel="The database")
bench_app = typer.Typer(help="Benchmarks.", no_args_is_help=True)
app.add_typer(bench_app, name="bench", rich_help_panel="Experiments")
