"""Server and host counters sampled every second, and the events read off them.

What can make every request of a second slow at once: a checkpoint writing,
the WAL writer syncing, an autovacuum or autoanalyze on a hot table, the
kernel flushing dirty pages or stalling tasks on I/O. Each is read as a
cumulative counter (the differences give per-second rates) and, where it is
an event, noted with its time: `checkpoint`, `autovacuum`, `autoanalyze`.
PostgreSQL 17 moved checkpoints to pg_stat_checkpointer and 18 moved WAL
writes and syncs to pg_stat_io: each server is read in its own words. What a
server or host does not offer is left out and said in `unavailable`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psycopg

from lab.errors import first_line

PRESSURE = Path("/proc/pressure")
VMSTAT = Path("/proc/vmstat")
PAGE_KB = 4

WAL_SQL = "SELECT wal_records, wal_fpi, wal_bytes, wal_buffers_full FROM pg_stat_wal"
WAL_IO_SQL_14 = "SELECT wal_write, wal_write_time, wal_sync, wal_sync_time FROM pg_stat_wal"
WAL_IO_SQL_18 = ("SELECT sum(writes), sum(write_time), sum(fsyncs), sum(fsync_time) "
                 "FROM pg_stat_io WHERE object = 'wal'")
CHECKPOINT_SQL_17 = ("SELECT num_timed + num_requested, write_time, sync_time, buffers_written "
                     "FROM pg_stat_checkpointer")
CHECKPOINT_SQL_16 = ("SELECT checkpoints_timed + checkpoints_req, checkpoint_write_time, "
                     "checkpoint_sync_time, buffers_checkpoint FROM pg_stat_bgwriter")
TABLES_SQL = ("SELECT relname, autovacuum_count + vacuum_count, autoanalyze_count + analyze_count "
              "FROM pg_stat_user_tables")
RUNNING_VACUUM_SQL = ("SELECT relid::regclass::text FROM pg_stat_progress_vacuum "
                      "WHERE datname = current_database()")


class ServerCounters:
    """Read the counters once a second on the sampler's connection; note events."""

    def __init__(self, version: int) -> None:
        self.version = version
        self.unavailable: dict[str, str] = {}
        self.events: list[dict[str, Any]] = []
        self._tables: dict[str, tuple[int, int]] | None = None
        self._checkpoints: int | None = None
        self._vacuuming: set[str] = set()
        self._settings_noted = False

    def _read(self, conn: psycopg.Connection, name: str, sql: str) -> tuple[Any, ...] | None:
        if name in self.unavailable:
            return None
        try:
            return conn.execute(sql).fetchone()  # type: ignore[arg-type]
        except psycopg.Error as exc:
            self.unavailable[name] = first_line(exc)
            return None

    def _note_timing_settings(self, conn: psycopg.Connection) -> None:
        """Say which times read zero because the server does not measure them."""
        self._settings_noted = True
        for setting, what in (("track_wal_io_timing", "WAL write and sync times"),
                              ("track_io_timing", "data file read and write times")):
            row = self._read(conn, setting, f"SELECT current_setting('{setting}')")
            if row and row[0] != "on":
                self.unavailable[setting] = f"{setting} is off on this server: {what} read 0"

    def sample(self, conn: psycopg.Connection, ts: float) -> dict[str, Any]:
        if not self._settings_noted:
            self._note_timing_settings(conn)
        row: dict[str, Any] = {}
        wal = self._read(conn, "wal", WAL_SQL)
        if wal:
            row.update(zip(("wal_records", "wal_fpi", "wal_bytes", "wal_buffers_full"),
                           map(float, wal), strict=True))
        wal_io = self._read(conn, "wal_io",
                            WAL_IO_SQL_18 if self.version >= 180000 else WAL_IO_SQL_14)
        if wal_io:
            row.update(zip(("wal_writes", "wal_write_ms", "wal_syncs", "wal_sync_ms"),
                           (float(v or 0) for v in wal_io), strict=True))
        checkpoints = self._read(conn, "checkpoints", CHECKPOINT_SQL_17
                                 if self.version >= 170000 else CHECKPOINT_SQL_16)
        if checkpoints:
            count, write_ms, sync_ms, buffers = (float(v or 0) for v in checkpoints)
            row.update(checkpoints=count, checkpoint_write_ms=write_ms,
                       checkpoint_sync_ms=sync_ms, checkpoint_buffers=buffers)
            if self._checkpoints is not None and count > self._checkpoints:
                self.events.append({"ts": ts, "kind": "checkpoint",
                                    "detail": f"checkpoint done ({buffers:,.0f} buffers "
                                              "written since the server started)"})
            self._checkpoints = int(count)
        self._table_events(conn, ts)
        row.update(host_signals())
        return row

    def _table_events(self, conn: psycopg.Connection, ts: float) -> None:
        """Vacuums and analyzes of the run database's tables: when one starts, when one ends."""
        if "tables" in self.unavailable:
            return
        try:
            tables = {name: (int(v), int(a)) for name, v, a in conn.execute(TABLES_SQL)}
            running = {name for (name,) in conn.execute(RUNNING_VACUUM_SQL)}
        except psycopg.Error as exc:
            self.unavailable["tables"] = first_line(exc)
            return
        for name in sorted(running - self._vacuuming):
            self.events.append({"ts": ts, "kind": "vacuum", "detail": f"vacuum of {name} "
                                "started"})
        self._vacuuming = running
        if self._tables is not None:
            for name, (vacuums, analyzes) in tables.items():
                before = self._tables.get(name, (vacuums, analyzes))
                if vacuums > before[0]:
                    self.events.append({"ts": ts, "kind": "vacuum",
                                        "detail": f"vacuum of {name} done"})
                if analyzes > before[1]:
                    self.events.append({"ts": ts, "kind": "analyze",
                                        "detail": f"analyze of {name} done"})
        self._tables = tables


def host_signals() -> dict[str, float]:
    """Pressure stall totals (µs the host's tasks were stalled on CPU or I/O, cumulative) and
    dirty and writeback memory (KiB), where the kernel reports them."""
    signals: dict[str, float] = {}
    for resource in ("cpu", "io"):
        try:
            lines = (PRESSURE / resource).read_text().splitlines()
        except OSError:
            continue
        for line in lines:
            kind, *fields = line.split()
            total = dict(f.split("=") for f in fields).get("total")
            if total is not None:
                signals[f"pressure_{resource}_{kind}_us"] = float(total)
    try:
        vmstat = dict(line.split() for line in VMSTAT.read_text().splitlines())
        for key in ("nr_dirty", "nr_writeback"):
            if key in vmstat:
                signals[f"{key.removeprefix('nr_')}_kb"] = float(vmstat[key]) * PAGE_KB
    except (OSError, ValueError):
        pass
    return signals
