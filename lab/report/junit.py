"""junit.xml: one test case per success criterion, for CI systems that read JUnit."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from lab.runfolder import Summary
from lab.verdicts import FAIL, PASS, fails_run


def write_junit(summary: Summary, path: Path, gates: dict[str, Any] | None = None) -> Path:
    """One test case per criterion, and one per regression gate when the run was gated
    (`gates`: gates.json). A case fails exactly when its verdict keeps the exit code from
    0 (`fails_run`): a failed criterion, one in scope but not measured, and lab targets only
    under --strict; a missed lab target without --strict and a criterion out of scope are
    skips, so CI reading junit.xml and CI reading the exit code agree."""
    verdicts, strict = summary.criteria, summary.config.strict
    scenario = summary.scenario.name
    judged, baseline = (gates["gates"], gates["baseline_name"]) if gates else ([], "")
    failing = [v for v in verdicts if fails_run(v, strict)]
    suite = ET.Element("testsuite", name=f"timeline-lab {scenario} ({summary.config.strategy})",
                       tests=str(len(verdicts) + len(judged)),
                       failures=str(len(failing) + sum(not g["passed"] for g in judged)),
                       skipped=str(sum(v.status != PASS and v not in failing
                                       for v in verdicts)),
                       timestamp=summary.started_at)
    for verdict in verdicts:
        case = ET.SubElement(suite, "testcase", classname=f"timeline_lab.{scenario}",
                             name=f"{verdict.id}: {verdict.title}")
        window = f" (judged on the {verdict.window})" if verdict.window else ""
        message = f"measured {verdict.measured}{window}; seed threshold {verdict.seed}"
        if verdict in failing:
            said = (message if verdict.status == FAIL else
                    f"lab target {verdict.lab} missed (--strict): {message}"
                    if verdict.status == PASS else f"in scope but {verdict.status}: {message}")
            failure = ET.SubElement(case, "failure", message=said)
            failure.text = verdict.note or message
        elif verdict.status != PASS:
            why = ("a lab target, failing a run only with --strict"
                   if verdict.status == FAIL else verdict.note or verdict.measured)
            ET.SubElement(case, "skipped", message=f"{verdict.status}: {why}")
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
