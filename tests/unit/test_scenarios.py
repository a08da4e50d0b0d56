"""The scenario configuration and the locustfiles built from it, as Locust itself loads them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from lab.errors import LabError
from lab.resources import locustfiles_dir
from lab.runconfig import RunConfig
from lab.scenarios import load_scenarios

SCENARIOS = ["mixed", "posting", "registration", "seed", "smoke", "storm", "timeline", "viral"]


def test_every_scenario_has_its_locustfile_and_paced_ones_a_scheduled_rate() -> None:
    scenarios = load_scenarios()
    assert sorted(scenarios) == sorted(SCENARIOS)
    for scenario in scenarios.values():
        assert scenario.locustfile.exists()
        assert "V" in scenario.criteria and "SC2" in scenario.criteria
    assert scenarios["posting"].scheduled_rate(1000) == pytest.approx(150.0)
    assert scenarios["registration"].scheduled_rate(1000) == pytest.approx(100.0)
    assert scenarios["mixed"].scheduled_rate(1000) is None


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_locust_loads_each_scenario_with_one_user_class_per_persona(scenario: str) -> None:
    # A subprocess: importing locust monkey-patches the standard library for gevent.
    locustfile = str(locustfiles_dir() / f"{scenario}.py")
    listed = subprocess.run([sys.executable, "-m", "locust", "-f", locustfile, "--list"],
                            capture_output=True, text=True, timeout=120,
                            cwd=locustfiles_dir().parent)
    assert listed.returncode == 0, listed.stderr
    # The listed classes, line by line: exactly one per persona ("ReaderUser" must not be
    # found inside "PowerReaderUser").
    shown = listed.stdout.split("Available Users:", 1)[1].split()
    expected = ["".join(p.title() for p in persona.name.split("_")) + "User"
                for persona in load_scenarios()[scenario].personas]
    assert sorted(shown) == sorted(expected)


def test_a_persona_with_both_pacings_is_refused_with_its_name(tmp_path: Path) -> None:
    config = tmp_path / "scenarios.toml"
    config.write_text("""
[scenarios.broken]
criteria = ["V"]
[scenarios.broken.personas.poster]
wait_s = [1, 2]
throughput_per_s = 1.0
tasks = { post_tweet = 1 }
""")
    with pytest.raises(LabError, match="broken.personas.poster: give exactly one of"):
        load_scenarios(config)


def test_the_scheduled_rate_counts_the_paced_request_of_the_paced_personas(
        tmp_path: Path) -> None:
    """8 users split 1:3: 2 paced posters at 2 actions/s, half of them posts (2 posts/s in
    all); 6 readers on think times post too, but on no schedule."""
    config = tmp_path / "scenarios.toml"
    config.write_text("""
[scenarios.known]
criteria = ["SC5"]
paced_request = "post_tweet"
[scenarios.known.personas.poster]
weight = 1
throughput_per_s = 2.0
tasks = { post_tweet = 1, like = 1 }
[scenarios.known.personas.reader]
weight = 3
wait_s = [1, 2]
tasks = { post_tweet = 1 }
""")
    known = load_scenarios(config)["known"]
    assert known.scheduled_rate(8) == pytest.approx(2.0)
    assert known.scheduled_rate(4.0) == pytest.approx(1.0)


def test_the_seed_scenario_brings_its_connection_check_and_100_tweets_per_second() -> None:
    seed = load_scenarios()["seed"]
    # The broadcasters' tweets only (the registrants are paced too, but send no tweet):
    # more than the criterion's 100/s at its 1000 users, fewer at 800.
    rate = seed.scheduled_rate(1000)
    assert rate is not None and rate >= 110
    assert (seed.scheduled_rate(800) or 0) < 100
    assert {p.name for p in seed.personas if p.throughput_per_s} == {"broadcaster",
                                                                     "registrant"}
    config = RunConfig.build(scenario="seed")
    assert config.connection_experiment is not None
    assert config.connection_experiment.levels == (10, 100, 1000)
    assert set(config.connection_experiment.paths) == {"direct", "api", "pgbouncer"}
    # A run that names its own experiment keeps it; other scenarios bring none.
    own = RunConfig.build(scenario="seed", connection_experiment={"levels": (2, 4)})
    assert own.connection_experiment is not None and own.connection_experiment.levels == (2, 4)
    assert RunConfig.build(scenario="mixed").connection_experiment is None
    # `lab run --no-connections` skips the seed's check (SC4 then out of scope).
    skipped = RunConfig.build(scenario="seed", connection_check=False)
    assert skipped.connection_experiment is None and not skipped.connection_check
