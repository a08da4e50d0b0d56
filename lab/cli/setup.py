"""`lab tools`: the programs a pip install cannot bring (PgBouncer), found or installed."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from lab.cli.app import app
from lab.cli.output import console, err_console
from lab.errors import LabError
from lab.tools import TOOLS, install, missing_tools
from lab.verdicts import EXIT_INVALID_RUN

EXIT_TOOL_MISSING = EXIT_INVALID_RUN     # 3, like `lab db status` when something is absent


@app.command(rich_help_panel="The database")
def tools(install_missing: Annotated[bool, typer.Option(
        "--install", help="Install what is missing with apt-get (as root or with passwordless "
                          "sudo); otherwise say in one line how to get it.")] = False,
          require: Annotated[bool, typer.Option(
              help="Exit 3 when a tool is still missing (CI); without it, missing is only "
                   "said.")] = False) -> None:
    """Show which system programs the lab uses, where they are, and what needs each."""
    absent = missing_tools()
    if install_missing and absent:
        names = ", ".join(t.name for t in absent)
        console.print(f"installing {names} ...")
        try:
            install(absent)
        except LabError as exc:
            err_console.print(f"could not install {names}: {exc}")
    found = {tool.name: tool.find() for tool in TOOLS}
    absent = [tool for tool in TOOLS if found[tool.name] is None]
    table = Table(title="system tools")
    table.add_column("tool")
    # A path is copied from here: whole on one line, the descriptions wrap instead.
    table.add_column("found at", no_wrap=True,
                     min_width=max((len(path) for path in found.values() if path), default=0))
    table.add_column("needed by")
    for tool in TOOLS:
        table.add_row(tool.name, found[tool.name] or "[red]missing[/]", tool.needed_by)
    console.print(table)
    for tool in absent:
        console.print(tool.warning())
    if require and absent:
        raise typer.Exit(EXIT_TOOL_MISSING)
