"""Flame graphs and own time from py-spy's collapsed stacks (pure)."""

from __future__ import annotations

import json
from pathlib import Path
from xml.etree import ElementTree

from lab.report.flames import collapsed, flame_svg, own_time, profiles_context

RAW = """main (app.py:1);handle (app.py:5);query (db.py:9) 60
main (app.py:1);handle (app.py:5);encode (json.py:3) 30
main (app.py:1);idle (loop.py:2) 10
a broken line
"""


def test_own_time_counts_the_innermost_frame() -> None:
    stacks = collapsed(RAW)
    assert len(stacks) == 3 and stacks[0] == (["main (app.py:1)", "handle (app.py:5)",
                                               "query (db.py:9)"], 60)
    assert own_time(stacks) == [("query (db.py:9)", 0.6), ("encode (json.py:3)", 0.3),
                                ("idle (loop.py:2)", 0.1)]
    assert own_time(stacks, top=1) == [("query (db.py:9)", 0.6)]
    assert own_time([]) == []


def test_each_frame_is_as_wide_as_its_share_and_sits_on_its_caller() -> None:
    svg = ElementTree.fromstring(flame_svg(collapsed(RAW), "api-1 <pid>"))
    ns = "{http://www.w3.org/2000/svg}"
    boxes = {g.find(f"{ns}title").text.split(" (")[0]: g.find(f"{ns}rect")
             for g in svg.iter(f"{ns}g")}
    width = {name: float(rect.get("width")) for name, rect in boxes.items()}
    y = {name: float(rect.get("y")) for name, rect in boxes.items()}
    assert width["all"] == 1000 and width["handle"] == 900 and width["query"] == 600
    assert width["idle"] == 100
    assert y["all"] > y["main"] > y["handle"] > y["query"]       # callers below callees
    assert y["query"] == y["encode"]
    # Siblings do not overlap: encode starts where query ends (alphabetical order).
    assert float(boxes["encode"].get("x")) + width["encode"] == float(boxes["query"].get("x"))


def test_a_run_folder_s_profiles_become_pages_parts(tmp_path: Path) -> None:
    assert profiles_context(tmp_path) is None           # a run without --profile
    where = tmp_path / "profiles"
    where.mkdir()
    (where / "api-7.txt").write_text(RAW)
    (where / "profiles.json").write_text(json.dumps({
        "rate_hz": 100, "problems": [],
        "processes": {"api-7": {"group": "api", "pid": 7, "file": "api-7.txt", "seconds": 10.0,
                                "profiler_cpu_s": 0.5},
                      "locust-8": {"group": "locust", "pid": 8, "file": "locust-8.txt",
                                   "seconds": 10.0, "profiler_cpu_s": 0.1}}}))
    context = profiles_context(tmp_path)
    assert context is not None
    [api] = context["processes"]                        # locust-8 wrote nothing: left out
    assert api["samples"] == 100 and api["profiler_cpu_share"] == 0.05
    assert (where / "api-7.svg").exists()
    assert api["svg"].startswith("data:image/svg+xml;base64,")    # the page stays one file
