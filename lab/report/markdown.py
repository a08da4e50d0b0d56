"""summary.md: the run's verdicts, its regression gates and largest changes, in Markdown that a
CI job page can show (GitHub's job summary, GitLab's, a pull request comment)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lab.runfolder import MARKDOWN_FILE, REPORT_FILE, RunFolder
from lab.verdicts import EXIT_PASSED, PASS


def _cell(value: object) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def _table(header: list[str], rows: list[list[object]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in rows]
    return lines


def _ms(value: float | None) -> str:
    return "–" if value is None else f"{value:,.1f}"


def markdown(folder: RunFolder, gates: dict[str, Any] | None) -> str:
    summary = folder.summary
    code = gates["exit_code"] if gates else summary.exit_code
    window, total = summary.windows.measurement, summary.stats.total
    lines = [f"# timeline-lab: {summary.scenario.name} · {summary.config.strategy} · "
             f"{summary.config.users} users · {summary.started_at}", "",
             f"**{'PASS' if code == EXIT_PASSED else 'FAIL'}** (exit {code}) · "
             f"[the full report]({REPORT_FILE})", "",
             f"Measurement window {window.seconds:.0f} s after a "
             f"{summary.windows.warmup.seconds:.0f} s warm-up: {total.count:,} requests, "
             f"{total.rps or 0:,.1f} req/s, all requests p50 / p95 / p99 "
             f"{_ms(total.latency_ms.p50)} / {_ms(total.latency_ms.p95)} / "
             f"{_ms(total.latency_ms.p99)} ms.", ""]
    lines += _table(["criterion", "status", "measured", "seed threshold", "judged on"],
                    [[f"{v.id} {v.title}", v.status.upper() if v.status != PASS else "pass",
                      v.measured, v.seed, v.window or "–"] for v in summary.criteria])
    if gates:
        lines += ["", f"## Regression gates against {gates['baseline_name']}", ""]
        lines += _table(["gate", "limit", "result", "detail"],
                        [[g["gate"], g["limit"], "pass" if g["passed"] else "FAIL",
                          g["message"]] for g in gates["gates"]])
        changes = gates.get("changes", [])
        lines += ["", "## Largest changes outside the noise (95 % intervals)", ""]
        lines += _table(["request", "metric", "baseline", "this run", "change", "interval"],
                        [[c["name"], c["metric"], _ms(c["baseline"]), _ms(c["value"]),
                          f"{c['change']:+.1%}", f"{c['low']:+.1%} to {c['high']:+.1%}"]
                         for c in changes]) if changes else ["None: every difference against "
                                                             "the baseline is within its noise "
                                                             "or under the minimum effect."]
    return "\n".join(lines) + "\n"


def write_markdown(path: Path | str, gates: dict[str, Any] | None) -> Path:
    folder = RunFolder(path)
    out = folder.path / MARKDOWN_FILE
    out.write_text(markdown(folder, gates))
    return out
