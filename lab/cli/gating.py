"""Regression gates and the noise floor from the command line: `lab gate`, and what `lab run
--baseline/--fail-on/--repeat` does after its runs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from lab.cli.app import app
from lab.cli.output import console, run_action
from lab.errors import LabError
from lab.runfolder import RunFolder

BaselineOption = Annotated[str | None, typer.Option(
    help="The run to gate against: a run folder, or 'latest' (the newest earlier run of the "
         "same scenario, strategy, scale and users beside this one). Needs --fail-on.")]
FailOnOption = Annotated[str | None, typer.Option(
    help="Regression gates, e.g. 'home_timeline.p99:+20%,throughput:-10%' (NAME.p50|p95|p99"
         ":+N%, NAME.rps:-N%, throughput:-N%; NAME may be 'all'). A gate fails only when the "
         "change is beyond its limit and its 95 % interval excludes zero; exit code 4 when "
         "the criteria passed and a gate failed.")]


def check_gating(baseline: str | None, fail_on: str | None) -> None:
    """Refuse a half-given gate before any run starts."""
    from lab.report.gates import parse_gates

    if (baseline is None) != (fail_on is None):
        raise LabError("--baseline and --fail-on go together: the gates need a run to "
                       "compare with, and a baseline needs gates to judge")
    if fail_on is not None:
        parse_gates(fail_on)
    if baseline not in (None, "latest"):
        RunFolder(baseline)         # refuses a folder that is not a run's


def print_gates(document: dict[str, Any]) -> None:
    table = Table(title=f"regression gates against {document['baseline_name']}")
    for column in ("gate", "limit", "result", "detail"):
        table.add_column(column)
    for gate in document["gates"]:
        result = Text("pass", style="green") if gate["passed"] else Text("FAIL", "bold red")
        table.add_row(gate["gate"], gate["limit"], result, gate["message"])
    console.print(table)


def gated_if_any(folder: Path, baseline: str, fail_on: str, code: int) -> int:
    """`lab run`'s gates: with 'latest' and no earlier comparable run (a nightly job's first
    night), say so and keep the run's own code; this run is the next one's baseline."""
    from lab.report.gates import latest_baseline

    if baseline == "latest":
        try:
            latest_baseline(folder)
        except LabError as exc:
            console.print(f"{exc}: gates not judged; this run is the next one's baseline")
            return code
    return gated(folder, baseline, fail_on)


def gated(folder: Path, baseline: str, fail_on: str) -> int:
    """Judge a finished run's gates, re-render its report and the index; its exit code."""
    from lab.report.gates import gate_run
    from lab.report.run_page import write_run_report
    from lab.report.trends import update_index

    document = run_action(lambda: gate_run(folder, baseline, fail_on))
    run_action(lambda: write_run_report(folder))
    run_action(lambda: update_index(folder.resolve().parent))
    print_gates(document)
    return int(document["exit_code"])


@app.command(rich_help_panel="Reports")
def gate(run_folder: Annotated[Path, typer.Argument(help="The run folder to judge.")],
         baseline: Annotated[str, typer.Option(
             help="A run folder, or 'latest' (the newest earlier comparable run beside it).")],
         fail_on: Annotated[str, typer.Option(
             help="Gates, e.g. 'home_timeline.p99:+20%,throughput:-10%'.")]) -> None:
    """Gate an existing run against a baseline run, as `lab run --baseline --fail-on` does:
    gates.json, junit.xml and summary.md in the run folder; exit 4 when a gate fails on a run
    whose criteria passed (a worse code of the run itself stands)."""
    run_action(lambda: check_gating(baseline, fail_on))
    raise typer.Exit(gated(run_folder, baseline, fail_on))


def record_noise(folders: list[Path]) -> None:
    """After `--repeat`: the spread of every trended metric across the identical runs."""
    from lab.report.noise import write_noise

    path, document = run_action(lambda: write_noise(folders))
    widest = sorted(document["metrics"].items(), key=lambda item: -item[1]["spread"])[:5]
    console.print(f"noise floor of {len(folders)} identical runs: {path}\n  widest: " +
                  "; ".join(f"{name} {m['min']:,.1f}-{m['max']:,.1f} ({m['spread']:.0%})"
                            for name, m in widest))
