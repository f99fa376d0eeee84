"""The table at the end of a sweep: each job's device, wall time, result and status, and the
best run's folder; also `summary.json` in the sweep folder.

The best run is the best by an evaluation score (`eval.primary`: the value `gancli eval`
returns, and `gancli train` when `train.eval_every` evaluated it). A training job without one
returns its loss's last divergence estimate, which crowns no run: one loss's estimate (a JS
estimate) and another's (a hinge gap) are different quantities, and even for one loss it
measures D's view of the moment, not the samples. The summary then says so and how to get a
score.

Hydra's callback (`gancli.commands.hydra_seam.SweepEnd`) calls `summarise` in the process that
launched the sweep once every job has returned. It reads the `job.json` each job wrote
(`gancli.launch.jobs.job_record`): under a parallel launcher the jobs ran in other processes, and
Hydra hands callbacks no job's return value. The jobs that did not finish go back to the caller,
which counts them as failed, so the command exits non-zero however they were launched. Before
the sweep `make_study_folder` makes the folder of an Optuna SQLite study, which SQLite will not
create itself.

No torch here: Hydra instantiates the callback for every command, `--help` included.
"""

from __future__ import annotations

import io
import json
import math
import os
import sys
from pathlib import Path
from typing import Any

import yaml

SQLITE = "sqlite:///"
#: What training jobs that evaluated nothing return (`gancli.training.loop`): not a score.
DIVERGENCE = "divergence"
NO_SCORE = (
    "best run: none, no comparable score (the jobs returned their losses' divergence "
    "estimates, which are not comparable; set train.eval_every=N to rank the runs by "
    "eval.primary)"
)


def read_jobs(sweep_dir: Path) -> list[dict[str, Any]]:
    """Each job folder's `job.json` below `sweep_dir`, with `folder` and `overrides` (its
    command line's overrides) added, in job order; an unreadable one counts as failed."""
    jobs = []
    for path in sweep_dir.rglob("job.json"):
        try:
            record = json.loads(path.read_text())
        except (OSError, ValueError):
            record = {"status": "failed", "error": f"{path} is unreadable"}
        if not isinstance(record, dict):
            record = {"status": "failed", "error": f"{path} is not a JSON object"}
        overrides_file = path.parent / ".hydra" / "overrides.yaml"
        try:
            overrides = yaml.safe_load(overrides_file.read_text()) or []
        except (OSError, yaml.YAMLError):
            overrides = []
        jobs.append({**record, "folder": str(path.parent), "overrides": list(overrides)})
    return sorted(jobs, key=lambda j: (j.get("job") is None, j.get("job") or 0, j["folder"]))


def best_job(jobs: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The finished job with the best score: lower is better unless its metric says otherwise
    (`higher`); jobs of different metrics are not compared with each other, so the metric of
    most finished jobs decides. None when no job has a score (a divergence estimate is none)."""
    done = [
        j
        for j in jobs
        if j.get("status") == "done"
        and isinstance(j.get("value"), float)
        and math.isfinite(j["value"])
        and j.get("metric") != DIVERGENCE
    ]
    if not done:
        return None
    metrics = [j.get("metric") for j in done]
    common = max(set(metrics), key=metrics.count)
    same = [j for j in done if j.get("metric") == common]
    sign = -1 if same[0].get("higher") else 1
    return min(same, key=lambda j: sign * j["value"])


def varying(jobs: list[dict[str, Any]]) -> list[list[str]]:
    """Each job's overrides less those every job shares: what tells the jobs apart."""
    shared = set.intersection(*(set(j["overrides"]) for j in jobs)) if jobs else set()
    return [[o for o in j["overrides"] if o not in shared] for j in jobs]


def render(jobs: list[dict[str, Any]], best: dict[str, Any] | None) -> str:
    """The summary as a table of text lines (rich's, no colour: it also goes to the log)."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"sweep: {len(jobs)} job(s)")
    for column in ("job", "overrides", "device", "time", "result", "status"):
        table.add_column(column, justify="right" if column in ("job", "time") else "left")
    for job, diff in zip(jobs, varying(jobs), strict=True):
        device = job.get("device") or "-"
        if job.get("gpu"):
            device += f" ({job['gpu']}{', shared' if job.get('gpu_shared') else ''})"
        value = job.get("value")
        result = f"{job.get('metric')} {value:.4g}" if isinstance(value, float) else "-"
        seconds = job.get("seconds")
        mark = " *" if best is not None and job["folder"] == best["folder"] else ""
        table.add_row(
            str(job.get("job", "?")),
            " ".join(diff) or "-",
            device,
            f"{seconds:.0f} s" if isinstance(seconds, (int, float)) else "-",
            result + mark,
            str(job.get("status", "?")),
        )
    out = io.StringIO()
    Console(file=out, width=140, color_system=None).print(table)
    text = out.getvalue()
    errors = [f"job {j.get('job', '?')}: {j['error']}" for j in jobs if j.get("error")]
    unscored = any(j.get("status") == "done" and j.get("metric") == DIVERGENCE for j in jobs)
    tail = (
        f"best run (*): {best['folder']}"
        if best is not None
        else NO_SCORE
        if unscored
        else "no job finished with a value"
    )
    return "\n".join([text.rstrip(), *errors, tail])


def make_study_folder(storage: object) -> None:
    """Before a sweep: the folder of an Optuna SQLite study (`hydra.sweeper.storage=
    sqlite:///DIR/x.db`), which SQLite will not create itself."""
    if isinstance(storage, str) and storage.startswith(SQLITE):
        Path(storage[len(SQLITE) :]).expanduser().parent.mkdir(parents=True, exist_ok=True)


def summarise(sweep_dir: Path) -> list[str]:
    """After a sweep: its table on stderr and `summary.json` in `sweep_dir`; returns the
    folders of the jobs that did not finish (none when no job wrote a record)."""
    jobs = read_jobs(sweep_dir) if sweep_dir.is_dir() else []
    if not jobs:
        return []
    best = best_job(jobs)
    summary = {
        "sweep": str(sweep_dir),
        "best": None if best is None else best["folder"],
        "jobs": jobs,
    }
    # Written beside and renamed, as gancli.files.atomic_write does (which needs torch).
    tmp = sweep_dir / ".summary.json.tmp"
    tmp.write_text(json.dumps(summary, indent=1))
    os.replace(tmp, sweep_dir / "summary.json")
    # To stderr with the jobs' logs: stdout keeps the paths scripts read.
    sys.stderr.write(f"{render(jobs, best)}\nsummary: {sweep_dir / 'summary.json'}\n")
    return [job["folder"] for job in jobs if job.get("status") != "done"]
