"""Profiles of a run (`lab run --profile`): flame graphs and the functions by own time.

py-spy writes each process's samples collapsed ("outer;...;inner COUNT" per
line). A flame graph draws every stack as a tower of frames, each as wide as
the share of samples it was on; the own-time table counts only the innermost
frame, where the CPU was actually spent. Both are made here, from the files
alone, so `lab report` can redraw them.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass, field
from html import escape
from pathlib import Path
from typing import Any

from lab.runfolder import PROFILES_DIR, PROFILES_FILE

TOP_FUNCTIONS = 15
WIDTH, ROW = 1000, 16
MIN_WIDTH_PX = 0.3        # narrower frames are not drawn (they still count in their parent)


def collapsed(text: str) -> list[tuple[list[str], int]]:
    """(frames outermost first, samples) of each line; broken lines are skipped."""
    stacks = []
    for line in text.splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            stacks.append((stack.split(";"), int(count)))
    return stacks


def own_time(stacks: list[tuple[list[str], int]], top: int = TOP_FUNCTIONS
             ) -> list[tuple[str, float]]:
    """The innermost frames by their share of all samples, largest first."""
    total = sum(count for _, count in stacks)
    counts: dict[str, int] = {}
    for frames, count in stacks:
        counts[frames[-1]] = counts.get(frames[-1], 0) + count
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:top]
    return [(frame, count / total) for frame, count in ranked] if total else []


@dataclass
class Frame:
    name: str
    count: int = 0
    children: dict[str, Frame] = field(default_factory=dict)


def _tree(stacks: list[tuple[list[str], int]]) -> Frame:
    root = Frame("all")
    for frames, count in stacks:
        node = root
        node.count += count
        for name in frames:
            node = node.children.setdefault(name, Frame(name))
            node.count += count
    return root


def _colour(name: str) -> str:
    """A warm colour that stays the same for a function across graphs."""
    digest = hashlib.sha256(name.encode()).digest()
    return f"rgb({205 + digest[0] % 50},{80 + digest[1] % 120},{40 + digest[2] % 50})"


def flame_svg(stacks: list[tuple[list[str], int]], title: str) -> str:
    """The flame graph of `stacks` as a standalone SVG, the outermost frame at the bottom
    (hover a frame for its samples and share)."""
    root = _tree(stacks)
    boxes: list[tuple[float, int, float, Frame]] = []     # x, depth, width, frame

    def place(node: Frame, x: float, depth: int) -> None:
        width = node.count / root.count * WIDTH if root.count else 0.0
        if width < MIN_WIDTH_PX:
            return
        boxes.append((x, depth, width, node))
        for child in sorted(node.children.values(), key=lambda c: c.name):
            place(child, x, depth + 1)
            x += child.count / root.count * WIDTH

    place(root, 0.0, 0)
    depth_max = max((depth for _, depth, _, _ in boxes), default=0)
    height = (depth_max + 1) * ROW + 24
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
             f'font-family="monospace" font-size="11">'
             f'<text x="0" y="14" font-size="13">{escape(title)}</text>']
    for x, depth, width, node in boxes:
        y = height - (depth + 1) * ROW
        fits = int((width - 4) / 6.6)
        text = node.name if len(node.name) <= fits else \
            (node.name[:fits - 2] + ".." if fits > 4 else "")
        parts.append(f'<g><title>{escape(node.name)} ({node.count:,} samples, '
                     f'{node.count / root.count:.1%})</title>'
                     f'<rect x="{x:.2f}" y="{y}" width="{width:.2f}" height="{ROW - 1}" '
                     f'fill="{_colour(node.name)}"/><text x="{x + 2:.2f}" y="{y + ROW - 4}">'
                     f'{escape(text)}</text></g>')
    parts.append("</svg>")
    return "".join(parts)


def profiles_context(folder: Path) -> dict[str, Any] | None:
    """Each profiled process's flame graph (written beside its samples) and own-time table;
    None when the run was not profiled."""
    where = folder / PROFILES_DIR
    if not (where / PROFILES_FILE).exists():
        return None
    record = json.loads((where / PROFILES_FILE).read_text())
    processes = []
    for name, meta in sorted(record["processes"].items()):
        path = where / meta["file"]
        stacks = collapsed(path.read_text()) if path.exists() else []
        samples = sum(count for _, count in stacks)
        if not samples:
            continue
        drawn = flame_svg(stacks, f"{name}: {samples:,} samples at {record['rate_hz']} Hz")
        (where / f"{name}.svg").write_text(drawn)     # beside the stacks, for a closer look
        cost = meta["profiler_cpu_s"] / meta["seconds"] if meta.get("seconds") else None
        processes.append({"name": name, "group": meta["group"], "samples": samples,
                          "seconds": meta["seconds"],
                          # inline, as every chart: the page stays a single file
                          "svg": "data:image/svg+xml;base64,"
                                 + base64.b64encode(drawn.encode()).decode(),
                          "own": own_time(stacks), "profiler_cpu_share": cost})
    return {"rate_hz": record["rate_hz"], "processes": processes,
            "problems": record.get("problems", [])}
