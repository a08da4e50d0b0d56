"""junit.xml: one test case per success criterion, for CI systems that read JUnit."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from lab.runfolder import Summary
from lab.verdicts import FAIL, PASS


def write_junit(summary: Summary, path: Path, gates: dict[str, Any] | None = None) -> Path:
    """Pass, failure or skipped per criterion (not measured and not in scope are skips), and
    one test case per regression gate when the run was gated (`gates`: gates.json)."""
    verdicts = summary.criteria
    scenario = summary.scenario.name
    judged, baseline = (gates["gates"], gates["baseline_name"]) if gates else ([], "")
    suite = ET.Element("testsuite", name=f"timeline-lab {scenario} ({summary.config.strategy})",
                       tests=str(len(verdicts) + len(judged)),
                       failures=str(sum(v.blocks for v in verdicts)
                                    + sum(not g["passed"] for g in judged)),
                       skipped=str(sum(v.status != PASS and not v.blocks for v in verdicts)),
                       timestamp=summary.started_at)
    for verdict in verdicts:
        case = ET.SubElement(suite, "testcase", classname=f"timeline_lab.{scenario}",
                             name=f"{verdict.id}: {verdict.title}")
        window = f" (judged on the {verdict.window})" if verdict.window else ""
        message = f"measured {verdict.measured}{window}; seed threshold {verdict.seed}"
        if verdict.blocks:
            failure = ET.SubElement(case, "failure", message=message if verdict.status == FAIL
                                    else f"in scope but {verdict.status}: {message}")
            failure.text = verdict.note or message
        elif verdict.status != PASS:
            ET.SubElement(case, "skipped",
                          message=f"{verdict.status}: {verdict.note or verdict.measured}")
        out = ET.SubElement(case, "system-out")
        out.text = message
    for gate in judged:
        case = ET.SubElement(suite, "testcase", classname=f"timeline_lab.{scenario}.gates",
                             name=f"gate {gate['gate']} {gate['limit']} against {baseline}")
        if not gate["passed"]:
            ET.SubElement(case, "failure", message=gate["message"]).text = gate["message"]
        ET.SubElement(case, "system-out").text = gate["message"]
    ET.indent(suite)
    ET.ElementTree(suite).write(path, encoding="utf-8", xml_declaration=True)
    return path
