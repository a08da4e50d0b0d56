"""docker-compose.yml cannot run here (no Docker engine); parse it and check what matters."""

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from lab.pg.containers import CONTAINER_COMMAND

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"


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


def test_a_real_compose_parser_accepts_the_file() -> None:
    compose = shutil.which("docker-compose")
    if compose is None:
        pytest.skip("docker-compose is not installed (.ci/run installs Debian's package)")
    checked = subprocess.run([compose, "-f", str(COMPOSE), "config", "-q"], capture_output=True,
                             text=True, timeout=60, cwd=COMPOSE.parent)
    assert checked.returncode == 0, checked.stderr


def commands(service: dict) -> list[str]:
    command = service.get("command", [])
    return [command] if isinstance(command, str) else command


def test_every_command_the_services_run_exists_in_the_project() -> None:
    from lab.cli import app

    services = load()["services"]
    lab_commands = {c.name or c.callback.__name__ for c in app.registered_commands}
    script = commands(services["api"])[-1]
    for step in script.split("&&"):
        words = step.split()
        assert words[0] == "lab" and words[1] in lab_commands, step
    for name in ("locust-master", "worker"):
        argv = commands(services[name])
        assert argv[0] == "locust"
        assert (ROOT / argv[argv.index("-f") + 1]).exists()
    master_host = commands(services["worker"])
    assert master_host[master_host.index("--master-host") + 1] == "locust-master"


def test_the_image_copies_what_exists() -> None:
    for line in (ROOT / "Dockerfile").read_text().splitlines():
        if line.startswith("COPY "):
            for source in line.split()[1:-1]:
                assert (ROOT / source).exists(), line
