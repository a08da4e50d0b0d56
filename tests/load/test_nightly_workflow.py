"""The nightly workflow (.github/workflows/nightly.yml): linted, and its own shell steps run
here for real, two nights in a row, the way the runner would run them.

The steps are read from the file, so the commands tested are the commands shipped: the
first night has no baseline and keeps the run's own exit code, the second is gated against
the first, summary.md lands on the job page, old run folders are pruned, and the verdict
step fails the job on exit codes 1-4.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from lab.pg.server import PgServer
from lab.verdicts import EXIT_PASSED, EXIT_REGRESSION

ROOT = Path(__file__).resolve().parents[2]
WORKFLOW = ROOT / ".github" / "workflows" / "nightly.yml"
TINY = "--users 20 --spawn-rate 10 --run-time 18s --threshold SC1=60000 --threshold SC3=60000"


def steps() -> dict[str, dict[str, Any]]:
    document = yaml.safe_load(WORKFLOW.read_text())
    return {step["name"]: step for step in document["jobs"]["nightly"]["steps"]
            if "name" in step}


def test_the_workflow_passes_actionlint_with_shellcheck() -> None:
    actionlint = Path(sys.executable).parent / "actionlint"
    assert actionlint.exists(), "actionlint comes with the dev extra (pyproject.toml)"
    assert shutil.which("shellcheck"), "shellcheck checks the run: scripts (.ci/run installs it)"
    done = subprocess.run([str(actionlint), "-shellcheck", shutil.which("shellcheck") or "",
                           str(WORKFLOW)], capture_output=True, text=True, cwd=ROOT,
                          check=False)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_workflow_fails_the_job_on_exit_codes_1_to_4() -> None:
    verdict = steps()["Verdict"]["run"]
    for code, job_exit in (("0", 0), ("2", 2), ("3", 3), ("4", 4), ("1", 1), ("", 1)):
        done = subprocess.run(["bash", "-e", "-c", verdict], env={**os.environ, "CODE": code},
                              capture_output=True, text=True, check=False)
        assert done.returncode == job_exit, (code, done.stdout)


@pytest.mark.scenario_runs
def test_two_nights_in_a_row_run_gate_publish_and_prune(
        pg_server: PgServer, seeded_template: str, tmp_path: Path) -> None:
    found = steps()
    outputs, summary = tmp_path / "output", tmp_path / "summary.md"
    env = {**os.environ, "COLUMNS": "200", "LAB_DATABASE_URL": pg_server.url(),
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
           "LAB_SCENARIO": "smoke", "LAB_SCALE": "tiny", "LAB_RUN_ARGS": TINY,
           "LAB_GATES": "all.p99:+500%,throughput:-90%", "LAB_KEEP_RUNS": "1",
           "GITHUB_OUTPUT": str(outputs), "GITHUB_STEP_SUMMARY": str(summary)}

    def night() -> dict[str, str]:
        outputs.write_text("")
        done = subprocess.run(["bash", "-e", "-c", found["Load run, judged and gated"]["run"]],
                              cwd=tmp_path, env=env, capture_output=True, text=True,
                              timeout=300, check=False)
        assert done.returncode == 0, done.stdout + done.stderr     # the verdict step decides
        return dict(line.split("=", 1) for line in outputs.read_text().splitlines()) | {
            "stdout": done.stdout}

    first = night()
    assert "gates not judged; this run is the next one's baseline" in first["stdout"]
    assert int(first["exit_code"]) == EXIT_PASSED, first["stdout"]
    first_folder = tmp_path / first["folder"]
    assert not (first_folder / "gates.json").exists()
    assert summary.read_text() == (first_folder / "summary.md").read_text()

    second = night()
    second_folder = tmp_path / second["folder"]
    assert second_folder != first_folder and (second_folder / "gates.json").exists()
    assert int(second["exit_code"]) in (EXIT_PASSED, EXIT_REGRESSION)
    assert f"against {first_folder.name}" in (second_folder / "summary.md").read_text()
    assert summary.read_text().endswith((second_folder / "summary.md").read_text())

    pruned = subprocess.run(["bash", "-e", "-c", found["Keep the newest run folders only"]["run"]],
                            cwd=tmp_path, env=env, capture_output=True, text=True, check=False)
    assert pruned.returncode == 0, pruned.stderr
    assert not first_folder.exists() and second_folder.exists()
