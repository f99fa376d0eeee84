"""`gancli report PATH...`: a page per run, and a comparison page when there are several.

One run folder gives `RUN/report.html`. A sweep folder (its jobs are found at any depth, so
`make compare`'s nested sweeps count as one comparison) or several run folders give each run's
page plus `report.html` and `compare.md` in the sweep folder, the folders' common parent, or
`out`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import NamedTuple

from gancli.report.compare import compare, markdown
from gancli.report.page import compare_page, run_page
from gancli.report.runs import find_runs, is_run, read_run


class Written(NamedTuple):
    page: Path
    #: compare.md's text (None for a single run's page).
    table: str | None


def report(paths: list[Path], out: Path | None = None) -> Written:
    """Write the pages for `paths`; a path that is neither a run nor holds runs is a
    `GancliError` naming it, raised before anything is written."""
    folders = list(dict.fromkeys(f.resolve() for p in paths for f in find_runs(p)))
    runs = [read_run(f) for f in folders]
    pages = {run.folder: run_page(run) for run in runs}
    if len(paths) == 1 and is_run(paths[0]):
        return Written(pages[folders[0]], None)
    source = ", ".join(map(str, paths))
    table = compare(runs, source)
    # As the user named it: the page's title shows it.
    target = out or (
        paths[0] if len(paths) == 1 else Path(os.path.commonpath([p.resolve() for p in paths]))
    )
    text = markdown(table)
    return Written(compare_page(table, text, target, pages), text)
