"""How the lab starts Locust and its other children: nothing is shared by accident."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

from lab.processes import locust_command
from lab.runconfig import LOCUST_MASTER_PORT


def command(**kwargs: object) -> list[str]:
    return locust_command([Path("locustfile.py")], "http://127.0.0.1:8000", 10, 5,
                          Path("credentials.json"), Path("samples"), mode=[],
                          **kwargs)  # type: ignore[arg-type]


def value(argv: list[str], option: str) -> str:
    return argv[argv.index(option) + 1]


def test_forked_workers_meet_their_master_on_a_port_of_the_run_s_own() -> None:
    # Locust's default master port is the same for every run on the machine: a second run
    # with workers could not bind it (CI saw it, two test workers at once).
    argv = command(workers=2)
    port = value(argv, "--master-bind-port")
    assert value(argv, "--master-port") == port and int(port) != LOCUST_MASTER_PORT
    with socket.socket() as sock:       # free when chosen
        sock.bind(("127.0.0.1", int(port)))
    assert "--master-bind-port" not in command(workers=0)


def test_a_master_for_workers_elsewhere_listens_where_it_is_told() -> None:
    argv = command(workers=2, master=("10.0.0.4", 6000), workers_wait_s=30)
    assert value(argv, "--master-bind-port") == "6000" and "--processes" not in argv


def test_children_read_nothing_from_the_lab_s_stdin(tmp_path: Path) -> None:
    # The lab itself started with a pipe for stdin, as a test runner's worker is: its child
    # reads /dev/null, not the pipe.
    log = tmp_path / "child.log"
    probe = "import os; print(os.path.realpath('/proc/self/fd/0'))"
    lab = ("import os, sys; from pathlib import Path; from lab.processes import child_process\n"
           f"with child_process([sys.executable, '-c', {probe!r}], Path({str(log)!r}), "
           "dict(os.environ)) as process:\n    process.wait(timeout=30)")
    done = subprocess.run([sys.executable, "-c", lab], stdin=subprocess.PIPE,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert log.read_text().strip() == os.devnull
