"""`lab tools`: what a pip install cannot bring is found where it is, and said when it is not."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from lab.tools import PGBOUNCER, search_path


def lab_tools(*args: str, tools_path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "lab.cli", "tools", *args],
                          capture_output=True, text=True, timeout=60,
                          env={**os.environ, "COLUMNS": "200",
                               "LAB_TOOLS_PATH": str(tools_path)})


def test_a_missing_tool_is_one_line_naming_what_it_costs_and_how_to_get_it(
        tmp_path: Path) -> None:
    done = lab_tools(tools_path=tmp_path)
    assert done.returncode == 0, done.stderr         # only said, unless --require
    assert PGBOUNCER.warning() in done.stdout
    assert "lab tools --install" in done.stdout and "apt-get install pgbouncer" in done.stdout
    assert lab_tools("--require", tools_path=tmp_path).returncode == 3


def test_a_tool_is_found_on_the_search_path(tmp_path: Path) -> None:
    binary = tmp_path / "pgbouncer"
    binary.write_text("#!/bin/sh\nexit 0\n")
    binary.chmod(0o755)
    done = lab_tools("--require", tools_path=tmp_path)
    assert done.returncode == 0, done.stdout
    assert str(binary) in done.stdout and "missing" not in done.stdout


def test_the_sbin_folders_are_searched_after_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LAB_TOOLS_PATH", raising=False)
    monkeypatch.setenv("PATH", "/opt/a:/usr/bin")
    assert search_path().split(os.pathsep) == ["/opt/a", "/usr/bin", "/usr/local/sbin",
                                               "/usr/sbin", "/sbin"]
    monkeypatch.setenv("LAB_TOOLS_PATH", "/only/here")
    assert search_path() == "/only/here"
