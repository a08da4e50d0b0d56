"""Imports run one way: each module imports only its own layer and the layers below it.

The layers, lowest first, are docs/architecture.md's. A module missing from
them fails the test too, so a new room is placed on purpose.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("ground", ("lab", "lab.errors", "lab.progress", "lab.security", "lab.verdicts",
                "lab.percentiles", "lab.intervals", "lab.fits", "lab.resources", "lab.config",
                "lab.processes", "lab.queries", "lab.scenarios", "lab.runconfig",
                "lab.stalls", "lab.tools", "lab.targets")),
    ("database", ("lab.pg",)),
    ("data and API", ("lab.migrate", "lab.schema_snapshot", "lab.integrity", "lab.caches",
                      "lab.variants",
                      "lab.seed", "lab.api", "lab.api_process")),
    ("evidence", ("lab.plans", "lab.generators", "lab.httpload", "lab.records", "lab.runfolder",
                  "lab.growth", "lab.attribution")),
    ("measuring", ("lab.load", "lab.bench")),
    ("experiments and Locust", ("lab.connections", "lab.swarm", "lab.scaling")),
    ("reporting", ("lab.report",)),
    ("pipeline", ("lab.pipeline",)),
    ("command line", ("lab.cli",)),
]


def layer_of(module: str) -> int:
    """The index of the layer holding `module` (the longest matching prefix wins)."""
    best, best_length = -1, -1
    for index, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > best_length:
                best, best_length = index, len(prefix)
    return best


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def runtime_imports(tree: ast.Module) -> list[tuple[int, str]]:
    """(line, module) of every import that runs, at module level or inside functions;
    `if TYPE_CHECKING:` blocks are for the type checker only and are left out."""
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped |= {id(n) for child in node.body for n in ast.walk(child)}
    found = []
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
            found += [(node.lineno, f"{node.module}.{alias.name}") for alias in node.names]
    return found


SOURCES = sorted((ROOT / "lab").rglob("*.py"))


def test_every_module_belongs_to_a_layer() -> None:
    assert [module_name(p) for p in SOURCES if layer_of(module_name(p)) < 0] == []


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_a_module_imports_nothing_from_a_layer_above_its_own(path: Path) -> None:
    importer = module_name(path)
    own = layer_of(importer)
    upward = []
    for line, imported in runtime_imports(ast.parse(path.read_text())):
        if imported.split(".")[0] != "lab":
            continue
        theirs = layer_of(imported)
        if theirs > own:
            upward.append(f"line {line}: {imported} ({LAYERS[theirs][0]}) from "
                          f"{LAYERS[own][0]}")
    assert upward == []


def test_only_the_locust_side_imports_locust_and_gevent() -> None:
    # Importing locust patches the standard library for gevent: the lab's own processes
    # (the API, the pipeline, the CLI) must never do it.
    offenders = [f"{module_name(path)}: {imported}" for path in SOURCES
                 if not module_name(path).startswith("lab.swarm")
                 for _, imported in runtime_imports(ast.parse(path.read_text()))
                 if imported.split(".")[0] in ("locust", "gevent")]
    assert offenders == []


def test_locustfiles_only_build_on_the_locust_side() -> None:
    for path in (ROOT / "locustfiles").rglob("*.py"):
        lab_imports = {m for _, m in runtime_imports(ast.parse(path.read_text()))
                       if m.startswith("lab")}
        assert lab_imports and all(m.startswith("lab.swarm") for m in lab_imports), path


def test_the_rules_the_issue_names_hold_in_the_layers() -> None:
    # lab/api, lab/pg and lab/seed sit below lab/load, lab/report and the CLI; lab/load
    # below lab/report.
    for low in ("lab.api", "lab.pg", "lab.seed"):
        assert all(layer_of(low) < layer_of(high) for high in ("lab.load", "lab.report",
                                                               "lab.cli"))
    assert layer_of("lab.load") < layer_of("lab.report")
