"""Where the API under load comes from: the one the lab starts, or one at a URL (`--target`).

Asked once per run, as `lab.pg.source` is asked where PostgreSQL comes from:
the database step, the serving step and the sampler all read the same
answer rather than threading `if target:` through the pipeline.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from lab.errors import LabError


@dataclass(frozen=True)
class Target:
    """`url` is None for the API the lab starts itself."""

    url: str | None = None

    @property
    def remote(self) -> bool:
        return self.url is not None


STARTED = Target()     # the API `lab run` starts on its fresh copy
# The sampler's columns for a target's own CPU and memory (`<prefix>_cpu_percent`), as its
# /stats tells them: another host's, never part of this machine's CPUs.
REMOTE_API = "api_remote"


def choose_target(option: str | None) -> Target:
    """The API a run measures (pure: the URL's shape is checked, nothing is contacted)."""
    if not option:
        return STARTED
    parts = urlsplit(option)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise LabError(f"--target {option!r}: give the API's base URL, e.g. "
                       "http://10.0.0.5:8000")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise LabError(f"--target {option!r}: give the base URL only, without a path or query")
    try:
        port_zero = parts.port == 0
    except ValueError:
        port_zero = True
    if port_zero:
        raise LabError(f"--target {option!r}: the port must be a number from 1 to 65535")
    return Target(f"{parts.scheme}://{parts.netloc}")
