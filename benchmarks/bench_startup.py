"""Start-up time of the `gancli` paths that must answer at once: `--help` and config errors.

gancli promises that these paths never import torch (importing it alone takes a large part of a
second), so besides the wall time of each command, as a user's shell sees it, this checks that
torch stays out of `sys.modules` on each path. Two reference lines give the scale: a bare
interpreter, and `import torch`.

    .venv/bin/python benchmarks/bench_startup.py [--runs 5] [--markdown-out FILE]

This prints figures; it asserts nothing about them.
"""

from __future__ import annotations

import argparse
import datetime
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from machine import emit_table, machine

GANCLI = Path(sys.executable).with_name("gancli")
# Runs gancli's entry point in-process and then reports whether torch was imported. Hydra ends
# `--help` and config errors with sys.exit, hence the try/except.
PROBE = """\
import sys
from gancli.cli import main
try:
    main(sys.argv[1:])
except SystemExit:
    pass
sys.stderr.write(f"\\nTORCH_IMPORTED={'torch' in sys.modules}\\n")
"""
TABLE_HEADER = (
    "| date | machine | python | command | median s | min s | exit status "
    "| torch imported |\n|---|---|---|---|---:|---:|---:|---|"
)


@dataclass
class Case:
    """One command line to time; `args` is None for the reference lines (not gancli)."""

    label: str
    argv: list[str]
    args: list[str] | None = None


CASES = [
    Case("python -c pass (interpreter floor)", [sys.executable, "-c", "pass"]),
    Case("python -c 'import torch' (reference)", [sys.executable, "-c", "import torch"]),
    Case("gancli --help", [str(GANCLI), "--help"], ["--help"]),
    Case("gancli train --help", [str(GANCLI), "train", "--help"], ["train", "--help"]),
    Case(
        "gancli train optim.lrr=1 (config error)",
        [str(GANCLI), "train", "optim.lrr=1"],
        ["train", "optim.lrr=1"],
    ),
]


def timed_runs(argv: list[str], runs: int, cwd: Path) -> tuple[list[float], int]:
    """Wall times of `runs` runs after one untimed run (which warms the page cache and writes
    bytecode, costs a first-time user pays once), and the exit status."""
    subprocess.run(argv, cwd=cwd, capture_output=True)
    times, status = [], 0
    for _ in range(runs):
        start = time.perf_counter()
        status = subprocess.run(argv, cwd=cwd, capture_output=True).returncode
        times.append(time.perf_counter() - start)
    return times, status


def imports_torch(args: list[str], cwd: Path) -> str:
    """'yes' or 'no': does running gancli with `args` import torch?"""
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, *args], cwd=cwd, capture_output=True, text=True
    )
    for line in proc.stderr.splitlines():
        if line.startswith("TORCH_IMPORTED="):
            return "yes" if line.endswith("True") else "no"
    return f"unknown (probe failed: {proc.stderr.strip().splitlines()[-1:]})"


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--runs", type=int, default=5, help="timed runs per command (default 5)")
    p.add_argument("--markdown-out", type=Path, help="append the table rows to this file")
    args = p.parse_args(argv)
    if not GANCLI.is_file():
        raise SystemExit(
            f"no gancli script next to {sys.executable}: run `make install` and "
            "use the virtualenv's python"
        )

    print(f"{machine()}; python {platform.python_version()}; {GANCLI}; {args.runs} runs each")
    rows = []
    # A scratch working directory: nothing these commands might write lands in the repository.
    with tempfile.TemporaryDirectory(prefix="gancli-bench-") as tmp:
        cwd = Path(tmp)
        for case in CASES:
            times, status = timed_runs(case.argv, args.runs, cwd)
            torch_in = "—" if case.args is None else imports_torch(case.args, cwd)
            print(
                f"  {case.label:<42} median {statistics.median(times):.3f} s  "
                f"(runs: {' '.join(f'{t:.3f}' for t in times)})  exit {status}  "
                f"torch imported: {torch_in}"
            )
            rows.append(
                f"| {datetime.date.today()} | {machine()} | {platform.python_version()} "
                f"| `{case.label}` | {statistics.median(times):.3f} | {min(times):.3f} "
                f"| {status} | {torch_in} |"
            )

    print()
    emit_table(TABLE_HEADER, rows, args.markdown_out)


if __name__ == "__main__":
    main()
