"""Shared fixtures: a real PostgreSQL for every test that touches data.

The server is the embedded PostgreSQL 18 in its own data folder (so tests
never touch `make run`'s data), or whatever LAB_TEST_DATABASE_URL points at.
Isolation: one migrated template per schema version, and a fresh database
copied from it for each test that writes; never DELETE on a shared database.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections import Counter
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any

import pytest

from lab.migrate import migrate, schema_checksum
from lab.pg.databases import (
    create_database,
    database_exists,
    drop_database,
    list_lab_databases,
    rename_database,
)
from lab.pg.server import PgServer
from lab.pg.source import check_reachable, url_server
from lab.processes import free_port  # noqa: F401 - tests import it from here
from lab.progress import Reporter
from lab.seed.scales import get_scale
from lab.seed.template import ensure_template

ROOT = Path(__file__).resolve().parent.parent
# Under pytest-xdist (`make test` runs two workers) each worker has an embedded server of its
# own, so no test sees another worker's sessions, databases or load.
WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")
WORKER_INDEX = int(WORKER.removeprefix("gw") or 0)
TEST_PGDATA = ROOT / ".lab" / ("test-pgdata" + (f"-{WORKER}" if WORKER else ""))
TEST_PORT = int(os.environ.get("LAB_TEST_PG_PORT", "55433")) + WORKER_INDEX
TEST_SEED = 42
# Tests that put load on the machine run one at a time, on one worker (one scheduling unit): two
# load runs at once on two cores would each slow the other past the thresholds some of them
# expect to pass, and a starved pgbench logs transactions of 0 µs (a two-worker run saw a
# bench p50 of 0.0 ms). The rest of the suite runs beside them on the other worker.
LOAD_TESTS = ("tests/load/", "tests/topology/", "tests/e2e/", "tests/api/test_bench.py")
LOAD_GROUP = "load"


# The only skips CI accepts (CI=true, as .ci/run sets it): what no machine of this project
# can provide. Any other skip under CI is a failure: a suite that skips a group of tests
# has not passed them. Matched against the skip's reason.
EXPECTED_SKIPS = {
    "a Docker engine is running here":
        "the no-engine message of --db testcontainers can only be seen without an engine",
    "restart-db restarts the embedded server, not one given by URL":
        "the PostgreSQL 15 pass uses a server the lab did not start and must not restart",
}
SKIPS: Counter[str] = Counter()


def expected_skip(reason: str) -> bool:
    return any(expected in reason for expected in EXPECTED_SKIPS)


def skip_reason(report: pytest.TestReport | pytest.CollectReport) -> str | None:
    if not report.skipped or not isinstance(report.longrepr, tuple):
        return None
    return str(report.longrepr[2]).removeprefix("Skipped: ")


def judge_skip(report: pytest.TestReport | pytest.CollectReport) -> None:
    """Under CI, turn an unexpected skip into a failure naming it (where the test ran: in a
    worker under xdist, whose report then reaches the controller as a failure)."""
    reason = skip_reason(report)
    if reason is not None and os.environ.get("CI") == "true" and not expected_skip(reason):
        report.outcome = "failed"
        report.longrepr = (f"skipped under CI=true, which accepts only the skips in "
                           f"tests/conftest.py EXPECTED_SKIPS: {reason}")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]
                              ) -> Generator[None, pytest.TestReport, None]:
    outcome = yield
    judge_skip(outcome.get_result())  # type: ignore[attr-defined]


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector: pytest.Collector
                               ) -> Generator[None, pytest.CollectReport, None]:
    outcome = yield     # a whole module skipped (pytest.importorskip) is a collection skip
    judge_skip(outcome.get_result())  # type: ignore[attr-defined]


def count_skip(report: pytest.TestReport | pytest.CollectReport) -> None:
    """Count skips where the summary is printed (the controller, under xdist)."""
    reason = skip_reason(report)
    if reason is not None:
        SKIPS[reason] += 1


pytest_runtest_logreport = count_skip
pytest_collectreport = count_skip


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    terminalreporter.section("skip summary")
    if not SKIPS:
        terminalreporter.write_line("no test was skipped")
    for reason, count in SKIPS.most_common():
        kind = "expected" if expected_skip(reason) else "UNEXPECTED under CI"
        terminalreporter.write_line(f"{count:3d} x {reason} ({kind})")


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """Schedule the tests that load the machine as one unit, on one worker: xdist's own
    loadgroup cannot group under pytest 9 (it renames `item._nodeid`, which pytest 9 no
    longer reads), and said nothing when it did not. Scheduled by scope, the load unit is
    the largest and goes first; every other test is a unit of its own."""
    from xdist.scheduler import LoadScopeScheduling

    class LoadTestsTogether(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return LOAD_GROUP if nodeid.startswith(LOAD_TESTS) else nodeid

    return LoadTestsTogether(config, log)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test using a database fixture with `db`, so `-m db` selects them."""
    for item in items:
        if {"pg_server", "fresh_db", "seeded_db", "seeded_copy", "seeded_template", "api_db"} & set(
                getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.db)


def pytest_report_header(config: pytest.Config) -> str:
    url = os.environ.get("LAB_TEST_DATABASE_URL")
    if url:
        return f"database: {url}"
    if config.getoption("numprocesses", None):
        return f"database: embedded PostgreSQL, one per worker ({TEST_PGDATA}-gw<N>)"
    return f"database: embedded PostgreSQL ({TEST_PGDATA})"


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    """Yield the server under test; an embedded one started here is stopped afterwards."""
    url = os.environ.get("LAB_TEST_DATABASE_URL")
    if url:
        server = url_server(url)
        check_reachable(server)
        yield server
        return
    from lab.pg.embedded import EmbeddedPostgres, port_is_free

    # A free port, so a test run never collides with a lab server or another checkout.
    embedded = EmbeddedPostgres(TEST_PGDATA, TEST_PORT if port_is_free(TEST_PORT) else 0)
    if embedded.port == 0:
        embedded.port = free_port()
    started = embedded.start()
    try:
        yield embedded.server()
    finally:
        if started:
            embedded.stop()


def unique_name(label: str) -> str:
    """Return a fresh lab database name for one test."""
    return f"timeline_lab_test_{label}_{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="session")
def schema_template(pg_server: PgServer) -> str:
    """Return a migrated, empty template database (built once per schema version)."""
    prefix = "timeline_lab_test_schema_"
    name = prefix + schema_checksum()[:10]
    if not database_exists(pg_server, name):
        building = unique_name("schema_build")
        create_database(pg_server, building)
        with pg_server.connect(building) as conn:
            migrate(conn)
        # Templates of older schemas are never used again: do not let them pile up
        # on a shared server.
        for stale in list_lab_databases(pg_server):
            if stale.startswith(prefix) and stale != building:
                drop_database(pg_server, stale)
        rename_database(pg_server, building, name)
    return name


@contextlib.contextmanager
def copy_of(server: PgServer, template: str, label: str) -> Iterator[str]:
    """Create a copy of `template` for the duration of the block, then drop it."""
    name = unique_name(label)
    create_database(server, name, template=template, strategy="WAL_LOG")
    try:
        yield name
    finally:
        drop_database(server, name)


@pytest.fixture
def fresh_db(pg_server: PgServer, schema_template: str) -> Iterator[str]:
    """Yield the name of a migrated, empty database of this test's own."""
    with copy_of(pg_server, schema_template, "db") as name:
        yield name


@pytest.fixture(scope="session")
def seeded_template(pg_server: PgServer) -> str:
    """Return the tiny seeded template (reused across sessions while its key holds)."""
    return ensure_template(pg_server, get_scale("tiny"), TEST_SEED, Reporter()).template


@pytest.fixture(scope="session")
def seeded_db(pg_server: PgServer, seeded_template: str) -> Iterator[str]:
    """Yield a read-only-by-convention copy of the tiny dataset shared by the session."""
    with copy_of(pg_server, seeded_template, "seeded") as name:
        yield name


@pytest.fixture
def seeded_copy(pg_server: PgServer, seeded_template: str) -> Iterator[str]:
    """Yield a private copy of the tiny dataset for a test that writes."""
    with copy_of(pg_server, seeded_template, "seeded_rw") as name:
        yield name
