"""Fuzzing from the API's own OpenAPI schema (schemathesis) against a live server on the
tiny seeded dataset: no input may get a 5xx or a response that breaks its documented schema."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from lab.security import FUZZ_EXAMPLES_PER_OPERATION

schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402

from lab.pg.server import PgServer  # noqa: E402
from tests.api.conftest import Api, running_api  # noqa: E402
from tests.conftest import copy_of  # noqa: E402

EXAMPLES_PER_OPERATION = FUZZ_EXAMPLES_PER_OPERATION   # bounded so the whole fuzz fits in CI
# Reading routes take a token optionally (public data anonymously, protected data with
# the right token), which FastAPI documents as required; tests/api/test_privacy.py
# checks who may read what.
# Limits a JSON Schema pattern cannot say (a cursor decoding past year 9999) are refused
# with 422, rightly: schema-valid is not always acceptable.
EXCLUDED = [schemathesis.checks.ignored_auth, schemathesis.checks.positive_data_acceptance]


@pytest.fixture(scope="module", params=["pull", "push", "hybrid"])
def fuzzed_api(request: pytest.FixtureRequest, pg_server: PgServer,
               seeded_template: str) -> Iterator[tuple[Api, str]]:
    """The API under each strategy on a private copy of the tiny dataset, and a valid
    token for it."""
    with copy_of(pg_server, seeded_template, f"fuzz_{request.param}") as name, \
            running_api(pg_server.url(name), timeline_strategy=request.param) as api:
        yield api, api.register("fz").token


def test_no_input_gets_a_server_error_or_breaks_its_schema(
        fuzzed_api: tuple[Api, str]) -> None:
    api, token = fuzzed_api
    loaded = schemathesis.openapi.from_url(f"{api.url}/openapi.json")
    loaded.config.update(headers={"Authorization": f"Bearer {token}"})
    failures: dict[str, str] = {}
    sent: list[int] = []
    # Rotating or revoking the token ends it: those operations go last, so every other
    # one is fuzzed signed in.
    operations = sorted((result.ok() for result in loaded.get_all_operations()),
                        key=lambda operation: operation.label.endswith("/me/token"))
    for operation in operations:
        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        def fuzz(case: object) -> None:
            response = case.call_and_validate(  # type: ignore[attr-defined]
                excluded_checks=EXCLUDED)
            sent.append(response.status_code)

        try:
            fuzz()
        except Exception as exc:  # noqa: BLE001 - collect every operation's failure
            failures[operation.label] = str(exc)[:1500]
    assert len(operations) >= 20
    print(f"fuzz: {len(sent)} requests over {len(operations)} operations, statuses "
          f"{sorted(set(sent))}")
    assert len(sent) >= 10 * len(operations) and max(sent) < 500
    assert failures == {}, "\n\n".join(f"{k}:\n{v}" for k, v in failures.items())
