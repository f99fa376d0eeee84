"""What every benchmark prints with its figures: the machine they came from, its load, and the
markdown table (also appended to a file with --markdown-out). Kept free of torch so that the
start-up benchmark can use it without importing torch."""

from __future__ import annotations

import os
import platform
import statistics
from pathlib import Path


def machine(gpu: str | None = None) -> str:
    """CPU model and usable cores (plus the GPU's name when timing on one): quote figures with
    it."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    desc = f"{cpu}, {len(os.sched_getaffinity(0))} cores"
    return f"{desc}, {gpu}" if gpu else desc


def load_average() -> str:
    """The 1-minute load average, printed at the start and end: another job busy on the same
    cores slows every loop by far more than its share (their thread pools contend), and the
    figures of such a run, ratios included, are not worth quoting."""
    return f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs"


def spread(ratios: list[float], digits: int = 2) -> str:
    """A table's ratio cell: the median, then the range over the rounds, `1.03 (0.76–1.30)`:
    one run's ratio is noise, the range says how much."""
    low, mid, high = min(ratios), statistics.median(ratios), max(ratios)
    return f"{mid:.{digits}f} ({low:.{digits}f}–{high:.{digits}f})"


def emit_table(header: str, rows: list[str], markdown_out: Path | None) -> None:
    """Print the markdown table; append its rows to `markdown_out` (with the header when the
    file is new)."""
    print(header)
    print("\n".join(rows))
    if markdown_out:
        new = not markdown_out.exists() or markdown_out.stat().st_size == 0
        with markdown_out.open("a") as f:
            f.write((header + "\n" if new else "") + "\n".join(rows) + "\n")
