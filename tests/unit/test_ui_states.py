"""`lab ui` tells a test's start and end apart in the runner states it polls."""

from __future__ import annotations

from lab.pipeline.ui import TEST_STARTED, TEST_STOPPED, TestStates


def changes(states: list[str]) -> list[str | None]:
    watch = TestStates()
    return [watch.see(state) for state in states]


def test_a_stop_seen_through_cleanup_still_ends_the_test() -> None:
    # A poll can land while the users finish (Locust's "cleanup"): CI once lost a test so.
    assert changes(["ready", "spawning", "running", "cleanup", "stopped"]) == \
        [None, TEST_STARTED, None, None, TEST_STOPPED]


def test_a_master_s_stopping_and_a_second_test_each_count() -> None:
    assert changes(["spawning", "stopping", "stopped", "stopped", "running", "stopped"]) == \
        [TEST_STARTED, None, TEST_STOPPED, None, TEST_STARTED, TEST_STOPPED]


def test_stopped_without_a_test_seen_is_nothing() -> None:
    assert changes(["ready", "stopped", "cleanup"]) == [None, None, None]
