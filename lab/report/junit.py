"""junit.xml: one test case per success criterion, for CI systems that read JUnit."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any


def write_junit(summary: dict[str, Any], path: Path) -> Path:
    """Pass, failure or skipped per criterion (not measured and not in scope are skips)."""
    verdicts = summary["criteria"]
    name = f"timeline-lab {summary['scenario']['name']} ({summary['config']['strategy']})"
    suite = ET.Element("testsuite", name=name, tests=str(len(verdicts)),
                       failures=str(sum(v["status"] == "fail" for v in verdicts)),
                       skipped=str(sum(v["status"] not in ("pass", "fail") for v in verdicts)),
                       timestamp=summary["started_at"])
    for verdict in verdicts:
        case = ET.SubElement(suite, "testcase",
                             classname=f"timeline_lab.{summary['scenario']['name']}",
                             name=f"{verdict['id']}: {verdict['title']}")
        message = f"measured {verdict['measured']}; seed threshold {verdict['seed']}"
        if verdict["status"] == "fail":
            failure = ET.SubElement(case, "failure", message=message)
            failure.text = verdict.get("note") or message
        elif verdict["status"] != "pass":
            ET.SubElement(case, "skipped", message=f"{verdict['status']}: "
                          f"{verdict.get('note') or verdict['measured']}")
        out = ET.SubElement(case, "system-out")
        out.text = message
    ET.indent(suite)
    ET.ElementTree(suite).write(path, encoding="utf-8", xml_declaration=True)
    return path
