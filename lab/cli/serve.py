"""`lab serve`: the API (uvicorn, uvloop, httptools) on a migrated database."""

from __future__ import annotations

import os
import secrets
from typing import Annotated

import typer

from lab.cli import options
from lab.cli.app import app
from lab.cli.options import DatabaseOption, DbOption
from lab.cli.output import console, run_action
from lab.config import get_settings
from lab.errors import LabError
from lab.runconfig import check_strategy

# uvicorn closes an idle keep-alive connection after 5 s by default. A client
# that thinks for about 5 s then sends its next request on a connection the
# server is closing gets no response (seen: 1 post_tweet in ~39,000 requests
# per 2-minute mixed run, with think times of 1-5 s). Idle connections must
# outlive every persona's think time; 75 s is nginx's default.
KEEP_ALIVE_S = 75


@app.command(rich_help_panel="The API")
def serve(host: Annotated[str, typer.Option(help="Address to bind (loopback by default).")]
          = "127.0.0.1",
          port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
          workers: Annotated[int, typer.Option(min=1, help="uvicorn worker processes, "
                                                           "each with its own pool (default: "
                                                           "one per CPU).")]
          = options.DEFAULT_API_WORKERS,
          strategy: Annotated[str | None, typer.Option(
              help="Home timelines: pull, push or hybrid (default LAB_TIMELINE_STRATEGY, "
                   "pull).")] = None,
          database: DatabaseOption = None, db: DbOption = None) -> None:
    """Serve the API (uvicorn, uvloop, httptools) on a migrated, usually seeded, database."""
    import uvicorn

    from lab.caches import prepare_caches
    from lab.migrate import migrate as apply_migrations
    from lab.pg.databases import check_lab_name, database_exists
    from lab.pg.source import open_server

    def action() -> None:
        # uvicorn imports the app anew in each worker, which reads its settings from the
        # environment: what this command decides is handed on there.
        if strategy is not None:
            os.environ["LAB_TIMELINE_STRATEGY"] = check_strategy(strategy)
        # Every worker seals page cursors with the same key, or a cursor one issued would be
        # refused by the others.
        os.environ.setdefault("LAB_CURSOR_KEY", secrets.token_hex(32))
        get_settings.cache_clear()
        settings = get_settings()
        name = check_lab_name(database or settings.db_name)
        with open_server(db, settings) as server:
            if not database_exists(server, name):
                raise LabError(f"database {name} does not exist: run `lab seed` (or `lab "
                               "migrate`) first")
            with server.connect(name) as conn:
                apply_migrations(conn)
                prepare_caches(conn, settings.timeline_strategy, settings.timeline_cap,
                               console.print)
            os.environ["LAB_API_DSN"] = server.url(name)
            get_settings.cache_clear()
            console.print(f"serving {server.display_url(name)} on http://{host}:{port} "
                          f"({workers} worker{'s' if workers > 1 else ''}, "
                          f"pool {settings.pool_min}-{settings.pool_max} per worker, "
                          f"strategy {settings.timeline_strategy}); docs at /docs")
            uvicorn.run("lab.api.main:app", host=host, port=port, workers=workers,
                        loop="uvloop", http="lab.api.protocol:BoundedHttpProtocol",
                        log_level="warning",
                        access_log=False, timeout_keep_alive=KEEP_ALIVE_S)
    run_action(action)
