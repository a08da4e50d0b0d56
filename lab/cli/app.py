"""The Typer applications every command module registers with."""

from __future__ import annotations

import signal

import typer

app = typer.Typer(help="timeline-lab: load-testing and performance lab for a Twitter-like "
                       "PostgreSQL backbone.", no_args_is_help=True, add_completion=False)
db_app = typer.Typer(help="The embedded PostgreSQL 18 server.", no_args_is_help=True)
app.add_typer(db_app, name="db", rich_help_panel="The database")
bench_app = typer.Typer(help="Benchmarks.", no_args_is_help=True)
app.add_typer(bench_app, name="bench", rich_help_panel="Experiments")


@app.callback()
def _restore_ctrl_c() -> None:
    # A job a script starts with `&` arrives with SIGINT ignored, and every child the lab
    # starts would inherit that: the lab stops its children (API workers, Locust, wrk)
    # with SIGINT, so they would outlive each request to stop and be killed instead.
    # A comment, not a docstring: a docstring here would replace `lab --help`'s text.
    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
