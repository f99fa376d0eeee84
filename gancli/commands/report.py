"""`gancli report PATH... [--out DIR]`: HTML pages of run folders (see `gancli.report`).

It takes folders, not a config, so it skips Hydra; the report library (matplotlib, and torch
through the metric registry) loads only once the command line is read, so `--help` answers
at once.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from gancli.commands import Command, print_result
from gancli.errors import GancliError

DESCRIPTION = """\
One run folder: RUN/report.html (curves, evaluation scores, alerts, samples, config).
A sweep folder (runs found at any depth) or several run folders: each run's page, plus
report.html and compare.md comparing the runs, grouped by the overrides that differ between
them (seeds averaged), in the sweep folder, the folders' common parent, or --out.
The page's path is the last line on stdout."""


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="gancli report",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "paths",
        nargs="+",
        type=Path,
        metavar="PATH",
        help="a run folder, a sweep folder, or several of either",
    )
    p.add_argument("--out", type=Path, help="the folder for the comparison page")
    return p


def dispatch(rest: list[str]) -> int:
    """Run `gancli report ...`; returns the exit status. A path that is no run or sweep is
    one line and status 1; a wrong command line prints the usage and status 2."""
    try:
        args = parser().parse_args(rest)
    except SystemExit as exit_:  # --help (0) or a usage error (2), already printed
        return int(exit_.code or 0)
    from gancli.report.build import report

    try:
        written = report(
            [p.expanduser() for p in args.paths], args.out.expanduser() if args.out else None
        )
    except GancliError as err:
        sys.stderr.write(f"gancli: error: {err}\n")
        return err.exit_code
    if written.table:
        sys.stdout.write(written.table)
    print_result(written.page)
    return 0


COMMAND = Command(dispatch=dispatch)
