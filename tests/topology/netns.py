"""Separate hosts on one machine: Linux network namespaces joined by a bridge.

Each host is a namespace with one veth interface on a private /24 that
exists only inside these namespaces; the bridge lives in a namespace of its
own, so the machine's own network is never touched. Loopback stays down in
every host: a process that tried to reach another over 127.0.0.1 would fail,
so a run that works here used the network between hosts. Everything is
removed on exit, failure included, and namespaces left by a crashed earlier
run (whose process is gone) are removed before new ones are made.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import psutil

PREFIX = "tl"                       # tl<pid>-<host>: whose test made it, and which host
SUBNET = "10.231.0"                 # private; never configured outside these namespaces
STOP_TIMEOUT_S = 20


def ip(*args: str) -> str:
    return subprocess.run(["ip", *args], check=True, capture_output=True, text=True).stdout


def can_make_namespaces() -> str | None:
    """Why namespaces cannot be made here (None: they can)."""
    if os.geteuid() != 0:
        return "network namespaces need root"
    if subprocess.run(["ip", "netns", "list"], capture_output=True).returncode != 0:
        return "network namespaces need iproute2 (`ip netns`)"
    return None


def remove_stale() -> None:
    """Delete namespaces of earlier runs whose test process no longer exists."""
    for line in ip("netns", "list").splitlines():
        match = re.match(rf"^({PREFIX}(\d+)-\S+)", line)
        if match and not psutil.pid_exists(int(match.group(2))):
            subprocess.run(["ip", "netns", "delete", match.group(1)], capture_output=True)


@dataclass
class Topology:
    """Hosts by name, each with its address; processes started in them, stopped at exit."""

    hosts: dict[str, str]                                  # host -> address
    namespaces: dict[str, str]                             # host -> namespace name
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def start(self, host: str, argv: list[str], log: Path,
              env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        """Run `argv` inside `host`'s namespace (output to `log`) until the topology ends."""
        out = log.open("ab")
        process = subprocess.Popen(["ip", "netns", "exec", self.namespaces[host], *argv],
                                   stdout=out, stderr=subprocess.STDOUT,
                                   env={**os.environ, **(env or {})})
        out.close()
        self.processes.append(process)
        return process

    def run(self, host: str, argv: list[str], timeout_s: float,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        """Run `argv` inside `host`'s namespace to its end."""
        return subprocess.run(["ip", "netns", "exec", self.namespaces[host], *argv],
                              capture_output=True, text=True, timeout=timeout_s,
                              env={**os.environ, "COLUMNS": "200", **(env or {})})

    def loopback_down(self) -> bool:
        """True while no host's loopback interface is up."""
        def flags(namespace: str) -> list[str]:
            shown = ip("-n", namespace, "link", "show", "lo")
            return shown.split("<", 1)[1].split(">", 1)[0].split(",")

        return all("UP" not in flags(ns) for ns in self.namespaces.values())

    def stop_processes(self) -> None:
        """SIGINT each process started here (newest first), SIGKILL if it lingers."""
        for process in reversed(self.processes):
            if process.poll() is None:
                process.send_signal(signal.SIGINT)
        for process in reversed(self.processes):
            try:
                process.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@contextmanager
def topology(hosts: list[str]) -> Iterator[Topology]:
    """Namespaces `tl<pid>-<host>` on one bridge, host i at SUBNET.(i+1); all removed after."""
    remove_stale()
    tag = f"{PREFIX}{os.getpid()}"
    hub = f"{tag}-hub"
    made: list[str] = []
    world = Topology({h: f"{SUBNET}.{i + 1}" for i, h in enumerate(hosts)},
                     {h: f"{tag}-{h}" for h in hosts})
    try:
        for name in (hub, *world.namespaces.values()):
            ip("netns", "add", name)
            made.append(name)
        ip("-n", hub, "link", "add", "br0", "type", "bridge")
        ip("-n", hub, "link", "set", "br0", "up")
        for index, host in enumerate(hosts):
            namespace, port = world.namespaces[host], f"p{index}"
            ip("-n", hub, "link", "add", port, "type", "veth", "peer", "name", "eth0",
               "netns", namespace)
            ip("-n", hub, "link", "set", port, "master", "br0", "up")
            ip("-n", namespace, "addr", "add", f"{world.hosts[host]}/24", "dev", "eth0")
            ip("-n", namespace, "link", "set", "eth0", "up")
        yield world
    finally:
        world.stop_processes()
        for name in reversed(made):    # deleting a namespace deletes its veth ends too
            subprocess.run(["ip", "netns", "delete", name], capture_output=True)
