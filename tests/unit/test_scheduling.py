"""The suite's own xdist scheduler: the tests that load the machine run on one worker.

The scheduler overrides a private method of pytest-xdist's LoadScopeScheduling, so this
drives the real class through its public steps (nodes join, report their collection, the
work is scheduled) and reads what each worker was sent: a newer xdist that stops calling
the override, or calls it differently, fails here instead of silently running two load
tests at once.
"""

from __future__ import annotations

from types import SimpleNamespace

from tests.conftest import LOAD_TESTS, pytest_xdist_make_scheduler

COLLECTION = [
    "tests/load/test_run_smoke.py::test_run",
    "tests/unit/test_percentiles.py::test_p95",
    "tests/topology/test_remote.py::test_remote",
    "tests/integration/test_follow.py::test_atomic",
    "tests/e2e/test_ui_browser.py::test_page",
    "tests/api/test_bench.py::test_bench",
    "tests/api/test_routes.py::test_profile",
    "tests/unit/test_intervals.py::test_interval",
]


class Worker:
    """Stands in for xdist's WorkerController: records the tests it is sent."""

    def __init__(self, name: str) -> None:
        self.gateway = SimpleNamespace(id=name)
        self.sent: list[str] = []
        self.shutting_down = False

    def send_runtest_some(self, indexes: list[int]) -> None:
        self.sent.extend(COLLECTION[i] for i in indexes)

    def shutdown(self) -> None:
        self.shutting_down = True


def scheduled(workers: int) -> list[Worker]:
    config = SimpleNamespace(getvalue=lambda name: [f"{workers}*popen"] if name == "tx" else None,
                             option=SimpleNamespace(loadscopereorder=True))
    scheduler = pytest_xdist_make_scheduler(config, None)
    nodes = [Worker(f"gw{i}") for i in range(workers)]
    for node in nodes:
        scheduler.add_node(node)
    for node in nodes:
        scheduler.add_node_collection(node, list(COLLECTION))
    scheduler.schedule()
    done = {node: 0 for node in nodes}
    while any(done[node] < len(node.sent) for node in nodes):   # each finishes a test a step
        for node in nodes:
            if done[node] < len(node.sent):
                scheduler.mark_test_complete(node, COLLECTION.index(node.sent[done[node]]))
                done[node] += 1
    assert scheduler.tests_finished
    return nodes


def test_every_load_test_goes_to_one_worker_and_the_rest_to_both() -> None:
    nodes = scheduled(2)
    load = {nodeid for nodeid in COLLECTION if nodeid.startswith(LOAD_TESTS)}
    holders = [node for node in nodes if load & set(node.sent)]
    assert len(holders) == 1 and load <= set(holders[0].sent)
    assert sorted(sum((node.sent for node in nodes), [])) == sorted(COLLECTION)
    other = next(node for node in nodes if node is not holders[0])
    assert other.sent and not load & set(other.sent)
    # The load unit is the largest, so it is handed out first: it starts at once.
    assert holders[0].sent[0].startswith(LOAD_TESTS)
