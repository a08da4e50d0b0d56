"""Where PostgreSQL comes from: the precedence rules and the no-Docker message."""

import pytest

from lab.config import Settings
from lab.errors import LabError
from lab.pg.containers import docker_engine_error
from lab.pg.source import choose_source, open_server

URL = "postgresql://me@db.example:5432/app"


def settings(**values: object) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def test_embedded_is_the_default() -> None:
    assert choose_source(None, settings()).kind == "embedded"


def test_database_url_beats_the_embedded_default() -> None:
    source = choose_source(None, settings(database_url=URL))
    assert (source.kind, source.url) == ("url", URL)


def test_explicit_flag_beats_the_environment() -> None:
    assert choose_source("embedded", settings(database_url=URL)).kind == "embedded"
    assert choose_source("testcontainers", settings(database_url=URL)).kind == "testcontainers"


def test_flag_may_be_a_url() -> None:
    assert choose_source(URL, settings()).url == URL


def test_lab_db_setting_is_the_last_resort() -> None:
    assert choose_source(None, settings(db="testcontainers")).kind == "testcontainers"
    assert choose_source(None, settings(db="testcontainers", database_url=URL)).kind == "url"


def test_unknown_choice_names_the_alternatives() -> None:
    with pytest.raises(LabError, match="embedded.*testcontainers.*URL"):
        choose_source("docker", settings())


def test_environment_variables_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAB_DATABASE_URL", URL)
    monkeypatch.setenv("LAB_PG_PORT", "6543")
    loaded = Settings()
    assert loaded.database_url == URL and loaded.pg_port == 6543


@pytest.mark.skipif(docker_engine_error() is None, reason="a Docker engine is running here")
def test_testcontainers_without_docker_is_one_clear_line() -> None:
    with pytest.raises(LabError) as caught, open_server("testcontainers", settings()):
        pass
    message = str(caught.value)
    assert "\n" not in message
    assert "Docker engine" in message and "LAB_DATABASE_URL" in message and "embedded" in message
