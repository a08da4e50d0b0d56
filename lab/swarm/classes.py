"""One Locust user class per persona of a scenario (scenarios.toml), where Locust looks.

Importing this module registers everything a Locust process of the lab
needs: the recording hooks, the live criteria tab and every action.
"""

from __future__ import annotations

import os
from typing import Any

from locust import between

from lab.scenarios import get_scenario
from lab.swarm import live_tab, recording, storm  # noqa: F401 - they register listeners, actions
from lab.swarm.live_tab import Live
from lab.swarm.pacing import on_schedule
from lab.swarm.user import ACTIONS, LabUser


def _class_name(persona: str) -> str:
    return "".join(part.title() for part in persona.split("_")) + "User"


def users_for(scenario_name: str, module: str) -> dict[str, type[LabUser]]:
    """Build one Locust user class per persona of the scenario in scenarios.toml."""
    scenario = get_scenario(scenario_name)
    Live.scenario = scenario_name
    classes: dict[str, type[LabUser]] = {}
    for persona in scenario.personas:
        unknown = sorted(set(persona.tasks) - set(ACTIONS))
        if unknown:
            raise ValueError(f"scenarios.toml: {scenario_name}.{persona.name}: unknown actions "
                             f"{', '.join(unknown)}; known: {', '.join(sorted(ACTIONS))}")
        wait = (between(*persona.wait_s) if persona.wait_s
                else on_schedule(persona.throughput_per_s or 1.0))
        name = _class_name(persona.name)
        classes[name] = type(name, (LabUser,), {
            "__module__": module, "persona": persona.name, "weight": persona.weight,
            "wait_time": wait, "paced": persona.wait_s is None,
            "tasks": {ACTIONS[t]: w for t, w in persona.tasks.items()},
            "__doc__": f"The {persona.name} persona of the {scenario_name} scenario."})
    return classes


def debug_single_user(users: dict[str, type[LabUser]]) -> None:
    """Run one user in this process (LAB_PERSONA picks which), for stepping through tasks."""
    from locust import run_single_user

    chosen = os.environ.get("LAB_PERSONA")
    user = users[_class_name(chosen)] if chosen else next(iter(users.values()))
    user.host = os.environ.get("LAB_HOST", "http://127.0.0.1:8000")
    run_single_user(user)


def expose(scenario_name: str, namespace: dict[str, Any]) -> None:
    """Put the scenario's user classes where Locust looks for them (the locustfile's globals);
    run one user in this process when the file itself is run with python."""
    users = users_for(scenario_name, str(namespace["__name__"]))
    namespace.update(users)
    if namespace["__name__"] == "__main__":
        debug_single_user(users)
