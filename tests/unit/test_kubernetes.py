"""deploy/kubernetes cannot be applied here (no cluster): validate every resource against the
Kubernetes schemas offline, strictly, and check that the pieces name each other right."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from lab.runconfig import master_address
from lab.targets import choose_target

ROOT = Path(__file__).resolve().parents[2]
MANIFESTS = sorted((ROOT / "deploy" / "kubernetes").glob("*.yaml"))
VERSION = "1.30.0"     # the oldest Kubernetes the manifests promise to work on (README)


def resources() -> list[dict[str, Any]]:
    return [doc for path in MANIFESTS for doc in yaml.safe_load_all(path.read_text()) if doc]


def named(kind: str, name: str) -> dict[str, Any]:
    return next(r for r in resources() if r["kind"] == kind and r["metadata"]["name"] == name)


def container(resource: dict[str, Any]) -> dict[str, Any]:
    containers = resource["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    return dict(containers[0])


def option(argv: list[str], name: str) -> str:
    return argv[argv.index(name) + 1]


@pytest.mark.parametrize("version", [VERSION, kubernetes_validate.latest_version()])
def test_every_resource_is_valid_kubernetes(version: str) -> None:
    assert MANIFESTS
    for resource in resources():
        kubernetes_validate.validate(resource, version, strict=True)


def test_a_wrong_field_is_caught() -> None:
    """The validator is strict: it would catch a misspelt field (so the test above can fail)."""
    job = named("Job", "lab-run")
    job["spec"]["template"]["spec"]["containers"][0]["comand"] = ["lab"]
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(job, VERSION, strict=True)


def test_the_pieces_name_each_other() -> None:
    from lab.cli import app

    commands = {c.name or c.callback.__name__ for c in app.registered_commands}
    run = container(named("Job", "lab-run"))["command"]
    workers = named("Deployment", "locust-worker")
    # The workers find the master through its Service, on the port the master binds.
    host, port = master_address(option(container(workers)["command"], "--master"))
    service = named("Service", host)
    assert service["spec"]["ports"][0]["port"] == port == master_address(
        option(run, "--master-bind"))[1]
    assert service["spec"]["selector"].items() <= \
        named("Job", "lab-run")["spec"]["template"]["metadata"]["labels"].items()
    # The master waits for as many workers as the Deployment runs.
    assert int(option(run, "--locust-workers")) == workers["spec"]["replicas"]
    # The run drives the API through the API's Service.
    target = choose_target(option(run, "--target")).url
    api = named("Service", "api")
    assert target == f"http://api:{api['spec']['ports'][0]['port']}"
    # Every container runs a command the lab has, in the image the Dockerfile builds, and
    # reads only Secret keys the example Secret documents.
    secret = named("Secret", "timeline-lab-database")["stringData"]
    for resource in resources():
        if resource["kind"] not in ("Deployment", "Job"):
            continue
        spec = container(resource)
        assert spec["image"] == "timeline-lab:latest"
        if spec["command"][0] == "lab":
            assert spec["command"][1] in commands, spec["command"]
        for variable in spec.get("env", []):
            assert variable["valueFrom"]["secretKeyRef"]["key"] in secret, variable
