"""The `lab` command: one module per command group, all registered on one Typer app.

database.py (db, migrate, snapshot), setup.py (tools), data.py (seed, credentials, check),
serve.py, runs.py (run, ui), experiments.py (connections, bench, explain),
reports.py (report, compare), gating.py (gate; what run does with --baseline, --fail-on
and --repeat); output.py, options.py and tables.py are
shared by them. Nothing below the CLI imports it.
"""

import importlib

from lab.cli.app import app

# Imported in this order, so `lab --help` lists the groups in it.
COMMAND_MODULES = ("database", "setup", "data", "serve", "runs", "experiments", "growth", "reports",
                   "gating")
for _module in COMMAND_MODULES:
    importlib.import_module(f"lab.cli.{_module}")

__all__ = ["app"]
