"""The growth studies' pages: `lab capacity` (capacity.json) and `lab scaling` (scaling.json),
each rebuilt from its document alone."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lab.errors import LabError
from lab.growth import CAPACITY_FILE, GRAPH_FILE, SCALING_FILE, read_document
from lab.report import charts
from lab.report.growth_charts import against_load, ccdf, cost_curve
from lab.report.render import write_page
from lab.runfolder import REPORT_FILE
from lab.verdicts import DEFAULT_THRESHOLDS, LAB_P99_MS


def capacity_charts(document: dict[str, Any]) -> list[dict[str, str]]:
    steps, knee = document["steps"], document["headline"]["knee_users"]
    for step in steps:
        step["cpu_total"] = sum(step["cpu_percent"].values()) or None
        for group in ("postgres", "api", "locust"):
            step[f"cpu_{group}"] = step["cpu_percent"].get(group)
    figures = [
        ("Throughput against load", against_load(
            "Successful requests/s against simulated users (measurement window)", steps,
            {"requests/s": "rps"}, "requests/s", knee)),
        ("Latency against load", against_load(
            "All requests' p50, p95, p99 against simulated users (measurement window)", steps,
            {"p50": "p50_ms", "p95": "p95_ms", "p99": "p99_ms"}, "ms (log)", knee, log_y=True,
            limits={f"lab target p99 {LAB_P99_MS:g} ms": LAB_P99_MS})),
        ("CPU against load", against_load(
            "CPU by process group against simulated users (% of one core, window average)",
            steps, {"PostgreSQL": "cpu_postgres", "API": "cpu_api", "Locust": "cpu_locust",
                    "all": "cpu_total"}, "% of one core", knee)),
    ]
    return [{"title": title, "src": charts.data_uri(figure)} for title, figure in figures]


def write_capacity_report(folder: Path | str) -> Path:
    """(Re)write a capacity study's index.html from capacity.json."""
    folder = Path(folder)
    document = read_document(folder, CAPACITY_FILE)
    context = {"title": f"capacity · {document['config']['scenario']} · "
                        f"{document['started_at']}",
               "doc": document, "head": document["headline"],
               "steps": sorted(document["steps"], key=lambda s: s["users"]),
               "charts": capacity_charts(document) if document["steps"] else [],
               "thresholds": DEFAULT_THRESHOLDS}
    return write_page("capacity.html.j2", context, folder / REPORT_FILE)


def scaling_charts(document: dict[str, Any]) -> list[dict[str, str]]:
    figures = [(group["title"], cost_curve(group["title"], group["curves"], group["x_label"],
                                           group.get("threshold_ms")))
               for group in document["groups"] if group["curves"]]
    return [{"title": title, "src": charts.data_uri(figure)} for title, figure in figures]


def write_scaling_report(folder: Path | str) -> Path:
    """(Re)write a scaling study's index.html from scaling.json."""
    folder = Path(folder)
    document = read_document(folder, SCALING_FILE)
    context = {"title": f"scaling · {document['config']['scales']} · {document['started_at']}",
               "doc": document, "charts": scaling_charts(document)}
    return write_page("scaling.html.j2", context, folder / REPORT_FILE)


def graph_charts(document: dict[str, Any]) -> list[dict[str, str]]:
    stats = document["graph"]
    published = stats["published"]["following_alpha"]
    figure = ccdf("Follower and following counts: complementary CDFs (log-log)",
                  {"following (accounts followed)": stats["following"]["ccdf"],
                   "followers": stats["followers"]["ccdf"]},
                  reference=(published, f"power law, exponent {published} (Kwak et al.'s "
                                        "followings)"))
    return [{"title": "Degree CCDFs", "src": charts.data_uri(figure)}]


def write_graph_report(folder: Path | str) -> Path:
    """(Re)write a seeded graph's index.html from graph.json."""
    folder = Path(folder)
    document = read_document(folder, GRAPH_FILE)
    context = {"title": f"graph · {document['scale']} (seed {document['seed']}) · "
                        f"{document['started_at']}",
               "doc": document, "g": document["graph"], "charts": graph_charts(document)}
    return write_page("graph.html.j2", context, folder / REPORT_FILE)


def study_rows(reports: Path) -> list[dict[str, Any]]:
    """The growth studies under `reports` (capacity, scaling, graph folders), newest first,
    each with its one-line headline for the index."""
    rows = []
    for name in (CAPACITY_FILE, SCALING_FILE, GRAPH_FILE):
        for path in reports.glob(f"*/{name}"):
            try:
                document = read_document(path.parent, name)
                rows.append({"name": path.parent.name, "kind": document["kind"],
                             "started_at": document["started_at"],
                             "headline": _headline(document),
                             "report": f"{path.parent.name}/{REPORT_FILE}"
                             if (path.parent / REPORT_FILE).exists() else None})
            except (OSError, LabError, KeyError, TypeError):
                continue    # a broken folder must not hide the others
    return sorted(rows, key=lambda r: r["started_at"], reverse=True)


def _headline(document: dict[str, Any]) -> str:
    if document["kind"] == "capacity":
        head = document["headline"]
        parts = []
        for key, label in (("seed", "seed thresholds"), ("lab", "lab targets")):
            found = head[key]
            parts.append(f"{label}: " + ("none held" if found["users"] is None else
                                         f"{found['users']:,} users, {found['rps']:.0f} req/s"
                                         + ("" if found["bounded"] else " (not bounded)")))
        return f"{document['config']['scenario']}, {document['config']['scale']}: " + \
            "; ".join(parts)
    if document["kind"] == "scaling":
        fits = [f"{k['label']} {k['fit']['exponent']:.2f}" for g in document["groups"][:1]
                for k in g["curves"] if k["fit"]]
        return "home timeline exponents: " + (", ".join(fits) or "none")
    graph = document["graph"]
    return (f"{document['scale']}: reciprocity {graph['reciprocal_pairs']:.1%} of pairs "
            f"(published {graph['published']['reciprocal_pairs']:.1%})")
