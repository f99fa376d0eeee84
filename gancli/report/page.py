"""The HTML pages, rendered from the Jinja2 templates in `templates/` (package data).

A page must open from disk on a machine without a network: the CSS is inlined, there is no
script, and every picture is a file beside the page, named by a relative path, so a folder of
runs can be copied or zipped with its report and still show.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import quote

from jinja2 import Environment, PackageLoader, StrictUndefined

from gancli.evaluation import display
from gancli.files import atomic_write
from gancli.report import plots, scores
from gancli.report.compare import Table
from gancli.report.runs import EVAL_FOLDER, Evaluation, Run, lookup, run_name

PAGE = "report.html"
#: The folder beside a page that holds its figures.
FIGURES = "report"
#: The width in CSS pixels sample grids are shown at (an 8×8 grid of 28×28 digits is 242
#: pixels: shown larger, pixelated, each digit can be judged), and the training pictures.
GRID_WIDTH = 680
THUMB_WIDTH = 340

ENV = Environment(
    loader=PackageLoader("gancli.report", "templates"),
    autoescape=True,
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def href(target: Path, page_dir: Path) -> str:
    """`target` as a link relative to a page in `page_dir`."""
    return quote(Path(os.path.relpath(target, page_dir)).as_posix())


def render(template: str, path: Path, **context: object) -> Path:
    text = ENV.get_template(template).render(**context)
    return atomic_write(path, lambda f: f.write(text.encode()))


def stopped_at(run: Run) -> str:
    """Where an unfinished run stopped, for the sentences that say what is missing."""
    last = run.last_step
    at = "before its first logged step" if last is None else f"at step {last}"
    return f"the run stopped {at} of {run.steps}"


def missing(run: Run) -> list[str]:
    """What the run folder lacks that a finished, evaluated run has, in plain sentences."""
    lines = []
    if not (run.train or run.evals or run.alerts):
        lines.append(
            "No metrics: metrics.jsonl holds no readable line (the run stopped before "
            "its first logged step)."
        )
    elif not run.train:
        lines.append("No training values in metrics.jsonl.")
    if run.skipped_lines:
        lines.append(
            f"{run.skipped_lines} line(s) of metrics.jsonl could not be read (written "
            "half when the run was cut off) and are left out."
        )
    if not (display.scores(run.final_scores) or run.evaluations):
        lines.append(
            f"No evaluation: metrics.jsonl has no scores and {EVAL_FOLDER}/ holds no "
            "eval.json (gancli eval ckpt=RUN writes one there; train.eval_every=N "
            "evaluates while training)."
        )
    if not run.finished:
        lines.append(f"No final samples: {stopped_at(run)}.")
    if not run.samples:
        lines.append("No training pictures (samples/step_*.png).")
    return lines


def summary(run: Run) -> str:
    """One line: what was trained, how far, how long."""
    cfg = run.config
    loss = str(lookup(cfg, "loss.name"))
    if lookup(cfg, "loss.divergence"):
        loss += f" ({lookup(cfg, 'loss.divergence')})"
    parts = [
        f"data {lookup(cfg, 'data.name')}",
        f"model {lookup(cfg, 'model.name')}",
        f"loss {loss}",
    ]
    if lookup(cfg, "conditioning.name") not in (None, "none"):
        parts.append(f"conditioning {lookup(cfg, 'conditioning.name')}")
    parts.append(f"seed {run.seed}")
    parts.append(f"finished {run.steps} steps" if run.finished else stopped_at(run))
    elapsed = run.last(display.ELAPSED)
    if elapsed is not None:
        parts.append(f"{elapsed:.0f} s")
    return " · ".join(parts)


def values_line(values: list[tuple[str, str]]) -> str:
    """`key value, key value`: the bookkeeping beside a table of scores."""
    return ", ".join(f"{key} {value}" for key, value in values)


def scored(run: Run, result: dict) -> str | None:
    """What an evaluation scored: its checkpoint as a path in the run where it is one (the
    run folder itself: its checkpoints/last.pt); None where eval.json does not say."""
    source = result.get("checkpoint") or result.get("samples")
    if not isinstance(source, str):
        return None
    path, root = Path(source), run.folder.resolve()
    if path == root:
        return "checkpoints/last.pt"
    return path.relative_to(root).as_posix() if path.is_relative_to(root) else source


def evaluation(run: Run, found: Evaluation) -> dict:
    """What the page shows of one `gancli eval` of the run: its folder, what it scored, its
    scores as the console wrote them, its bookkeeping, its eval.json and memorization
    picture."""
    result = found.result
    memorization = found.file("memorization.png")
    return {
        "name": href(found.folder, run.folder)
        if found.folder != run.folder
        else "eval.json in the run folder",
        "scored": scored(run, result),
        "rows": display.score_rows(result, display.primary(result, result.get("primary"))),
        "other": values_line(
            sorted(
                display.other_values(result, leave_out=("checkpoint", "samples", "primary")),
                key=lambda kv: kv[0] not in ("step", "generator"),
            )
        ),
        "json": href(found.folder / "eval.json", run.folder),
        "memorization": None if memorization is None else href(memorization, run.folder),
    }


def run_page(run: Run) -> Path:
    """RUN/report.html and its figures in RUN/report/."""
    figures = run.folder / FIGURES
    training = plots.save(plots.training_figure(run), figures / "training.png")
    over_steps = plots.save(plots.eval_figure(run), figures / "eval.png")
    final = run.final_samples
    evals = scores.scored(run)
    last_eval = evals[-1] if evals else {}
    bookkeeping = values_line(display.other_values(last_eval, leave_out=("step",)))

    def link(path: Path | None) -> str | None:
        return None if path is None else href(path, run.folder)

    return render(
        "run.html.j2",
        run.folder / PAGE,
        title=run_name(run.folder),
        folder=str(run.folder),
        summary=summary(run),
        missing=missing(run),
        final_scores=display.score_rows(run.final_scores, scores.primary(run)),
        final_step=last_eval.get("step"),
        evaluated_with=bookkeeping,
        evaluations=[evaluation(run, e) for e in reversed(run.evaluations)],
        alerts=run.alerts,
        training_png=link(training),
        eval_png=link(over_steps),
        final_png=link(final),
        no_final=f"No final samples: {stopped_at(run)}.",
        timeline=[(step, link(path)) for step, path in run.samples],
        overrides=" ".join(run.overrides),
        config_text=run.config_text,
        grid_width=GRID_WIDTH,
        thumb_width=THUMB_WIDTH,
    )


def compare_page(table: Table, text: str, out: Path, pages: dict[Path, Path]) -> Path:
    """OUT/report.html for `table`, and OUT/compare.md holding `text` (its Markdown);
    `pages`: each run's own page."""
    md = atomic_write(out / "compare.md", lambda f: f.write(text.encode()))
    groups = [r.group for r in table.rows]
    curves = plots.save(plots.compare_figure(groups, table.primary), out / FIGURES / "compare.png")
    rows = []
    for r in table.rows:
        stopped = len(r.group.runs) - len(r.group.finished)
        cells = [(v, "") for v in r.group.values.values()]
        cells += [(str(len(r.group.runs)), "num"), (str(stopped), "num")]
        cells += [
            (r.cells[k], "num primary" if k == table.primary else "num") for k in table.metrics
        ]
        links = [
            (
                f"seed {run.seed}" + ("" if run.finished else " (stopped)"),
                href(pages[run.folder], out),
            )
            for run in r.group.runs
        ]
        rows.append({"cells": cells, "links": links})
    samples: list[tuple[str, str | None, str]] = []
    for group in groups:
        done = sorted(group.finished, key=lambda run: str(run.seed) != "0")
        final = done[0].final_samples if done else None  # a finished run has it
        if final is not None:
            samples.append((group.label, href(final, out), f"seed {done[0].seed}"))
        else:
            samples.append(
                (group.label, None, f"no final samples: all {len(group.runs)} run(s) stopped")
            )
    return render(
        "compare.html.j2",
        out / PAGE,
        title=f"Comparison: {run_name(out)}",
        folder=str(out),
        header=table.header,
        markdown=href(md, out),
        columns=[*table.keys, "seeds", "stopped", *map(display.label, table.metrics)],
        rows=rows,
        curves_png=None if curves is None else href(curves, out),
        samples=samples,
        grid_width=GRID_WIDTH,
    )
