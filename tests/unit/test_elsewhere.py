"""Pure parts of measuring elsewhere: the target's URL, the master's address, what /stats
tells, the workers' log, what a remote target cannot show."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lab.errors import LabError
from lab.load.api_stats import REMOTE_CPU, REMOTE_RSS, STALLS_NAME, ApiStats
from lab.load.observe import not_observed
from lab.load.workers import WORKERS_LOG, WorkerLog
from lab.runconfig import RunConfig, master_address
from lab.stalls import read_stalls
from lab.targets import STARTED, choose_target


def test_a_target_is_a_base_url() -> None:
    assert choose_target(None) is STARTED and not STARTED.remote
    assert choose_target("http://10.0.0.5:8000/").url == "http://10.0.0.5:8000"
    assert choose_target("https://api.example").remote
    for bad, why in [("10.0.0.5:8000", "base URL"), ("ftp://x", "base URL"),
                     ("http://x:8000/v1", "without a path"), ("http://x:99999", "port"),
                     ("http://x:0", "port"), ("http://x/?a=1", "without a path")]:
        with pytest.raises(LabError, match=why):
            choose_target(bad)


def test_the_master_address_and_what_goes_with_it() -> None:
    assert master_address("10.0.0.4") == ("10.0.0.4", 5557)
    assert master_address("box:6000") == ("box", 6000)
    for bad in ("", ":5557", "box:", "box:x", "box:70000"):
        with pytest.raises(ValueError, match="--master-bind"):
            master_address(bad)
    with pytest.raises(LabError, match="--locust-workers"):
        RunConfig.build(master_bind="127.0.0.1:5557")
    with pytest.raises(LabError, match="does not copy or alter"):
        RunConfig.build(target="http://x:1", before_load=["SELECT 1"])
    assert RunConfig.build(master_bind="h", locust_workers=2).master_bind == "h"


def _answer(pid: int, ts: float, cpu_s: float, stalls: list[int]) -> dict[str, object]:
    return {"pool": {}, "process": {"pid": pid, "ts": ts, "cpu_s": cpu_s, "rss_mb": 100.0},
            "stalls": [{"ts": s, "process": f"api-{pid}", "loop_lag_max_ms": 1.0,
                        "loop_lag_total_ms": 2.0, "gc_pause_ms": 0.0, "gc_collections": 0}
                       for s in stalls]}


def test_each_worker_reports_its_own_cpu_and_its_stalls_are_kept_once(tmp_path: Path) -> None:
    stats = ApiStats()
    assert stats.read(_answer(1, 100.0, 5.0, [98, 99])) == {REMOTE_RSS: 100.0}  # no rate yet
    # Worker 1 used half a core over 2 s; worker 2 answers next, then worker 1 again.
    assert stats.read(_answer(1, 102.0, 6.0, [99, 100, 101]))[REMOTE_CPU] == 50.0
    assert stats.read(_answer(2, 102.5, 1.0, [101]))[REMOTE_CPU] == 50.0
    columns = stats.read(_answer(2, 103.5, 1.25, [102]))
    assert columns == {REMOTE_CPU: 75.0, REMOTE_RSS: 200.0}
    assert stats.write_stalls(tmp_path) == 6          # 98-101 of worker 1, 101-102 of worker 2
    rows = read_stalls(tmp_path, 0, 200)
    assert [(r["process"], r["ts"]) for r in rows][:3] == [("api-1", 98), ("api-1", 99),
                                                           ("api-1", 100)]
    assert (tmp_path / STALLS_NAME).exists()
    assert stats.read({"pool": {}}) == {}              # an older lab's /stats


def test_the_workers_log_is_read_line_by_line_as_it_grows(tmp_path: Path) -> None:
    path = tmp_path / WORKERS_LOG
    log = WorkerLog(path)
    assert log.new_lines() == []                       # the master has not written it yet
    first = json.dumps({"ts": 1, "event": "joined", "worker": "hostA_1"})
    path.write_text(first + "\n" + first[:10])         # a line still being written
    assert log.new_lines() == ["  worker hostA_1 joined (1 so far)"]
    with path.open("a") as out:
        out.write(first[10:] + "\n" + json.dumps({"ts": 2, "event": "missing",
                                                  "worker": "hostA_1"}) + "\n")
    assert log.new_lines() == ["  worker hostA_1 joined again",
                               "  worker hostA_1 stopped answering (no heartbeat)"]
    assert [e["event"] for e in log.events] == ["joined", "joined", "missing"]


def test_what_cannot_be_seen_from_here_is_named() -> None:
    assert not_observed(True, False, "http://127.0.0.1:1") == {}
    remote = not_observed(False, True, "http://10.0.0.5:8000")
    assert set(remote) == {"postgres processes", "api processes", "host signals"}
    assert "http://10.0.0.5:8000" in remote["api processes"]
    assert set(not_observed(False, False, "")) == {"postgres processes", "host signals"}
    assert set(not_observed(True, False, "", remote_workers=True)) == {"locust workers"}
