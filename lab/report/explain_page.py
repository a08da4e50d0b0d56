"""The `lab explain` page: the seed's assignment (a user following 1000+, the timeline measured,
plans documented, optimizations identified) without a load run."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from lab.report.render import write_page
from lab.runfolder import PLANS_FILE, REPORT_FILE


def explain_folder(reports: Path, strategy: str) -> Path:
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    folder = reports / f"explain-{stamp}_{strategy}"
    folder.mkdir(parents=True, exist_ok=False)
    return folder


def write_explain_page(folder: Path, plans: dict[str, Any], database: str) -> Path:
    """Write plans.json and the page rendering it into `folder`."""
    (folder / PLANS_FILE).write_text(json.dumps(plans, indent=1, default=str))
    context = {"title": f"Plans · {plans['strategy']} · {database}", "database": database,
               "plans": plans, "findings": plans.get("findings", [])}
    return write_page("explain.html.j2", context, folder / REPORT_FILE)
