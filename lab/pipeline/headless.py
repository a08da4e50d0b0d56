"""`lab run`: one headless load run, start to verdict.

prepare (a fresh copy of the dataset) -> measure (API, Locust, sampler,
faults) -> the SC4 experiment when asked -> collect -> judge every
criterion once -> write the run folder once -> render its report once.
"""

from __future__ import annotations

import time

from lab.config import Settings
from lab.connections.experiment import missing_tools, run_experiment
from lab.load.collect import collect
from lab.load.database import run_database
from lab.load.faults import check_fault_source
from lab.load.measure import measure
from lab.load.served import check_target
from lab.pg.source import choose_source
from lab.pipeline.steps import RunResult, judged, written
from lab.progress import Reporter, Say
from lab.runconfig import RunConfig
from lab.runfolder import new_run_folder
from lab.scenarios import get_scenario
from lab.targets import choose_target
from lab.verdicts import Verdict


def run_headless(config: RunConfig, settings: Settings, reporter: Reporter,
                 say: Say) -> RunResult:
    """Run one load test end to end; everything it starts it also stops."""
    scenario = get_scenario(config.scenario)
    target = choose_target(config.target)     # the API: started here, or at a URL
    check_fault_source(config.faults, choose_source(config.db, settings).kind)
    if config.connection_experiment is not None:
        for line in missing_tools(config.connection_experiment):
            say(line)
    with run_database(config.db, config.scale, config.seed, config.keep_database, settings,
                      reporter, say, step="[1/5] ", before_load=config.before_load,
                      target=target) as database:
        check_target(target, database, config.strategy, say)
        # Made once the database and the API are there: a run that could not start leaves
        # no folder.
        folder = new_run_folder(config.reports_dir, scenario.name,
                                config.tag or config.strategy, time.time())
        say(f"run folder {folder}")
        measurement = measure(config, scenario, database, folder, settings, say, target)
        sc4 = None
        if config.connection_experiment is not None:
            say("connection experiment (SC4) on the run database")
            document = run_experiment(config.connection_experiment, config.strategy, database,
                                      settings, folder, say, target)
            sc4 = Verdict(**document["sc4"])
        say("[4/5] statements, integrity check, ledger, samples")
        collected = collect(config, database, folder, measurement, settings, say)
        summary = judged(config, scenario, database, folder, measurement, collected, sc4,
                         settings)
    say("[5/5] summary and report")
    return written(folder, summary, measurement, collected)
