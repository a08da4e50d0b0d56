"""`lab report` and `lab compare`: pages rebuilt from run folders alone, no database."""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Annotated

import typer

from lab.cli.app import app
from lab.cli.output import console, run_action
from lab.cli.tables import print_comparison
from lab.runfolder import CONNECTIONS_FILE, SUMMARY_FILE


@app.command(rich_help_panel="Reports")
def report(run_folder: Annotated[Path, typer.Argument(
               help="A run folder (reports/<run>), or a `lab connections`, `lab capacity`, "
                    "`lab scaling` or graph folder.")]) -> None:
    """Regenerate a run's HTML report and junit.xml from its folder alone (no database)."""
    from lab.growth import CAPACITY_FILE, GRAPH_FILE, SCALING_FILE
    from lab.report.connections_page import write_connections_report
    from lab.report.growth_page import (
        write_capacity_report,
        write_graph_report,
        write_scaling_report,
    )
    from lab.report.run_page import write_run_report
    from lab.report.trends import update_index

    if (run_folder / CONNECTIONS_FILE).exists() and not (run_folder / SUMMARY_FILE).exists():
        console.print(f"report: {run_action(lambda: write_connections_report(run_folder))}")
        return
    study = next((writer for name, writer in ((CAPACITY_FILE, write_capacity_report),
                                              (SCALING_FILE, write_scaling_report),
                                              (GRAPH_FILE, write_graph_report))
                  if (run_folder / name).exists()), None)
    if study is not None:
        console.print(f"report: {run_action(partial(study, run_folder))}")
        return
    page = run_action(lambda: write_run_report(run_folder))
    index = run_action(lambda: update_index(run_folder.resolve().parent))
    console.print(f"report: {page}\nindex: {index}")


@app.command(rich_help_panel="Reports")
def compare(run_folders: Annotated[list[Path], typer.Argument(
                help="Two or more run folders; the first is the reference.")],
            out: Annotated[Path | None, typer.Option(
                help="Folder of the comparison page (default: reports/compare-<time>).")]
            = None) -> None:
    """Put runs side by side: criteria, latency per request with changes and their 95 %
    intervals (a change is called only when it is outside the noise), plans, charts."""
    from lab.report.compare import compare_runs

    comparison = run_action(lambda: compare_runs(run_folders, out))
    print_comparison(comparison.labels, comparison.verdicts, comparison.requests)
    console.print(f"comparison: {comparison.page}")
