"""PgBouncer in transaction mode, started and stopped by the lab on a loopback port.

Many client sessions share a few server sessions: a client holds a server session
only for the length of a transaction. That is what lets 1000 clients run on a
server whose sweet spot is a few active backends per core.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from lab.errors import LabError
from lab.pg.server import PgServer
from lab.processes import free_port
from lab.tools import PGBOUNCER

START_TIMEOUT_S = 15
STOP_TIMEOUT_S = 10
UNPRIVILEGED_USER = "nobody"     # PgBouncer refuses to run as root


def require_pgbouncer() -> str:
    binary = PGBOUNCER.find()
    if binary is None:
        raise LabError(f"{PGBOUNCER.missing_line()}; or leave it out with --paths direct,api")
    return binary


def config_text(server: PgServer, port: int, pool_size: int, max_clients: int,
                folder: Path) -> str:
    """pgbouncer.ini: every database of `server`, `pool_size` server sessions per database."""
    params = conninfo_to_dict(server.url())
    login = " ".join(f"{key}={params[key]}" for key in ("host", "port", "user", "password")
                     if params.get(key))
    return f"""[databases]
* = {login}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {port}
unix_socket_dir =
auth_type = any
pool_mode = transaction
default_pool_size = {pool_size}
max_db_connections = {pool_size}
reserve_pool_size = 0
max_client_conn = {max_clients}
query_wait_timeout = 10
ignore_startup_parameters = extra_float_digits,options
log_connections = 0
log_disconnections = 0
logfile = {folder / 'pgbouncer.log'}
pidfile = {folder / 'pgbouncer.pid'}
"""


@contextmanager
def pgbouncer(server: PgServer, pool_size: int, max_clients: int) -> Iterator[tuple[str, int]]:
    """Run PgBouncer in front of `server` until the block ends; yield its (host, port)."""
    binary = require_pgbouncer()
    folder = Path(tempfile.mkdtemp(prefix="lab-pgbouncer-"))
    port = free_port()
    config = folder / "pgbouncer.ini"
    config.write_text(config_text(server, port, pool_size, max_clients, folder))
    argv = [binary, str(config)]
    if os.geteuid() == 0:
        account = pwd.getpwnam(UNPRIVILEGED_USER)
        os.chown(folder, account.pw_uid, account.pw_gid)
        os.chown(config, account.pw_uid, account.pw_gid)
        argv[1:1] = ["-u", UNPRIVILEGED_USER]
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        _wait_ready(process, server, port, folder)
        yield "127.0.0.1", port
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)     # immediate shutdown
            try:
                process.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if process.stderr:
            process.stderr.close()
        shutil.rmtree(folder, ignore_errors=True)


def _wait_ready(process: subprocess.Popen[bytes], server: PgServer, port: int,
                folder: Path) -> None:
    url = make_conninfo(server.url(), host="127.0.0.1", port=port)
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        if process.poll() is not None:
            log = folder / "pgbouncer.log"
            detail = (log.read_text() if log.exists() else "") + (
                process.stderr.read().decode(errors="replace") if process.stderr else "")
            raise LabError(f"pgbouncer exited with status {process.returncode}: "
                           f"{detail.strip()[-300:]}")
        try:
            psycopg.connect(url, connect_timeout=2, prepare_threshold=None).close()
            return
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise LabError(f"pgbouncer did not accept connections within "
                               f"{START_TIMEOUT_S} s") from None
            time.sleep(0.2)
