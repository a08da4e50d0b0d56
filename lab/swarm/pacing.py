"""Arrivals kept to a schedule: a paced persona's k-th action is due k/rate seconds after its
user started, and the lag of each action behind its due time is recorded with its request.

Locust's constant_throughput waits `1/rate` minus the last task's duration and never
catches up: a user that fell behind stays behind, and the shortfall shows only as a
lower rate. Here a late user starts its next action at once until it is back on
schedule, and every action's lag says how far behind the generator was (LDBC's
benchmark driver holds the same line: operations start within a second of their
schedule, at least 95 % of them: lab.verdicts' SCHEDULE_ON_TIME_S and _SHARE, judged by V).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


def on_schedule(rate_per_s: float) -> Callable[[Any], float]:
    """A Locust wait_time keeping each user's actions to `rate_per_s` (see the module)."""
    interval = 1.0 / rate_per_s

    def wait_time(user: Any) -> float:
        now = time.time()
        user.due_ts = (user.due_ts if user.due_ts is not None else now) + interval
        return max(0.0, user.due_ts - now)

    return wait_time
