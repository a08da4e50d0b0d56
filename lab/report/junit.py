"""junit.xml: one test case per success criterion, for CI systems that read JUnit."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from lab.runfolder import Summary
from lab.verdicts import FAIL, PASS


def write_junit(summary: Summary, path: Path) -> Path:
    """Pass, failure or skipped per criterion (not measured and not in scope are skips)."""
    verdicts = summary.criteria
    scenario = summary.scenario.name
    suite = ET.Element("testsuite", name=f"timeline-lab {scenario} ({summary.config.strategy})",
                       tests=str(len(verdicts)),
                       failures=str(sum(v.blocks for v in verdicts)),
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
    ET.indent(suite)
    ET.ElementTree(suite).write(path, encoding="utf-8", xml_declaration=True)
    return path
