"""docker-compose.yml cannot run here (no Docker engine); parse it and check what matters."""

from pathlib import Path

import yaml

from lab.pg.containers import CONTAINER_COMMAND

COMPOSE = Path(__file__).resolve().parents[2] / "docker-compose.yml"


def load() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def test_postgres_service_matches_the_lab_settings() -> None:
    postgres = load()["services"]["postgres"]
    assert postgres["image"] == "postgres:18"
    flags = [value for value in postgres["command"] if value != "-c"]
    assert flags[0] == "postgres"
    settings = dict(flag.split("=", 1) for flag in flags[1:])
    assert int(settings["max_connections"]) >= 1100
    assert "pg_stat_statements" in settings["shared_preload_libraries"]
    assert settings["fsync"] == settings["synchronous_commit"] == "on"
    # The testcontainers path starts the server the same way.
    for key in ("max_connections", "shared_preload_libraries", "track_io_timing"):
        assert f"{key}={settings[key]}" in CONTAINER_COMMAND


def test_ports_bind_to_loopback_only() -> None:
    for service in load()["services"].values():
        for port in service.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), port


def test_volumes_used_are_declared() -> None:
    data = load()
    declared = set(data.get("volumes", {}))
    for service in data["services"].values():
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            assert source.startswith((".", "/")) or source in declared, volume
