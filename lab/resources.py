"""Where the lab's data folders are: beside the package in a checkout, inside it when installed.

`schema/` (migrations, variants, the snapshot) and `locustfiles/` (scenarios)
live at the top of the repository. A wheel carries them as `lab/_data/...`
(pyproject.toml maps them there), so `pip install` works outside a checkout.
"""

from __future__ import annotations

import os
from pathlib import Path

from lab.errors import LabError

PACKAGE = Path(__file__).resolve().parent
PACKAGED = PACKAGE / "_data"
CHECKOUT = PACKAGE.parent


def data_dir(name: str) -> Path:
    """The folder `name` (schema, locustfiles) of this installation."""
    for candidate in (PACKAGED / name, CHECKOUT / name):
        if candidate.is_dir():
            return candidate
    raise LabError(f"the lab's {name}/ folder is missing from {PACKAGED} and {CHECKOUT}: "
                   "reinstall the package (pip install timeline-lab, or `make install`)")


def schema_dir() -> Path:
    """The schema folder (LAB_SCHEMA_DIR overrides it, for tests of broken migrations)."""
    override = os.environ.get("LAB_SCHEMA_DIR")
    return Path(override) if override else data_dir("schema")


def locustfiles_dir() -> Path:
    """The folder of the scenario files `locust -f` takes, and scenarios.toml."""
    return data_dir("locustfiles")


def source_checkout() -> Path | None:
    """The git checkout the package runs from, or None for an installed package."""
    return CHECKOUT if (CHECKOUT / ".git").exists() else None
