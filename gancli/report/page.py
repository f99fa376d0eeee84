"""The HTML pages, rendered from the Jinja2 templates in `templates/` (package data).

A page must open from disk on a machine without a network: the CSS is inlined, there is no
script, and every picture is a file beside the page, named by a relative path, so a folder of
runs can be copied or zipped with its report and still show.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from urllib.parse import quote

from jinja2 import Environment, PackageLoader, StrictUndefined

from gancli.files import atomic_write
from gancli.report import plots, scores
from gancli.report.compare import Table
from gancli.report.runs import Run, lookup

PAGE = "report.html"
#: The folder beside a page that holds its figures.
FIGURES = "report"

ENV = Environment(loader=PackageLoader("gancli.report", "templates"), autoescape=True,
                  undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)


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
        lines.append("No metrics: metrics.jsonl holds no readable line (the run stopped before "
                     "its first logged step).")
    elif not run.train:
        lines.append("No training values in metrics.jsonl.")
    if run.skipped_lines:
        lines.append(f"{run.skipped_lines} line(s) of metrics.jsonl could not be read (written "
                     "half when the run was cut off) and are left out.")
    if not scores.scores(run.final_scores):
        lines.append("No evaluation: metrics.jsonl has no scores (train.eval_every=N with "
                     "eval.metrics evaluates while training).")
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
    parts = [f"data {lookup(cfg, 'data.name')}", f"model {lookup(cfg, 'model.name')}",
             f"loss {loss}"]
    if lookup(cfg, "conditioning.name") not in (None, "none"):
        parts.append(f"conditioning {lookup(cfg, 'conditioning.name')}")
    parts.append(f"seed {run.seed}")
    parts.append(f"finished {run.steps} steps" if run.finished else stopped_at(run))
    elapsed = run.last(scores.ELAPSED)
    if elapsed is not None:
        parts.append(f"{elapsed:.0f} s")
    return " · ".join(parts)


def score_rows(run: Run) -> list[tuple[str, str, bool]]:
    """(name, value, is primary) of each final score; a `_mean` with its `_std`, modes with
    their total."""
    final, primary = run.final_scores, scores.primary(run)
    rows = []
    for key in scores.columns(list(scores.scores(final))):
        text = scores.number(key, final[key])
        spread = final.get(key.removesuffix("_mean") + "_std") if key.endswith("_mean") else None
        if isinstance(spread, (int, float)):
            text += f" ± {scores.number(key, spread, final[key])}"
        if (total := scores.TOTALS.get(key)) in final:
            text += f" / {final[total]}"
        rows.append((scores.label(key), text, key == primary))
    return rows


def eval_json_text(key: str, value: object) -> str:
    """A value of eval.json or an evaluation line as text: numbers as the tables write them."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return scores.number(key, value)
    return value if isinstance(value, str) else json.dumps(value)


def run_page(run: Run) -> Path:
    """RUN/report.html and its figures in RUN/report/."""
    figures = run.folder / FIGURES
    training = plots.training_figure(run, figures / "training.png")
    evaluation = plots.eval_figure(run, figures / "eval.png")
    final = run.final_samples
    evals = scores.scored(run)
    last_eval = evals[-1] if evals else {}
    bookkeeping = ", ".join(f"{k} {eval_json_text(k, v)}" for k, v in last_eval.items()
                            if k != "step" and not k.endswith("_std")
                            and not scores.is_score(k, v))

    def link(path: Path | None) -> str | None:
        return None if path is None else href(path, run.folder)

    return render(
        "run.html.j2", run.folder / PAGE, title=str(run.folder), summary=summary(run),
        missing=missing(run), final_scores=score_rows(run),
        final_step=last_eval.get("step"),
        evaluated_with=bookkeeping,
        eval_json=[(k, eval_json_text(k, v)) for k, v in (run.eval_json or {}).items()],
        alerts=run.alerts, training_png=link(training), eval_png=link(evaluation),
        final_png=link(final), no_final=f"No final samples: {stopped_at(run)}.",
        timeline=[(step, link(path)) for step, path in run.samples],
        overrides=" ".join(run.overrides), config_text=run.config_text)


def compare_page(table: Table, text: str, out: Path, pages: dict[Path, Path]) -> Path:
    """OUT/report.html for `table`, and OUT/compare.md holding `text` (its Markdown);
    `pages`: each run's own page."""
    md = atomic_write(out / "compare.md", lambda f: f.write(text.encode()))
    groups = [r.group for r in table.rows]
    curves = plots.compare_figure(groups, table.primary, out / FIGURES / "compare.png")
    rows = []
    for r in table.rows:
        stopped = len(r.group.runs) - len(r.group.finished)
        cells = [(v, "") for v in r.group.values.values()]
        cells += [(str(len(r.group.runs)), "num"), (str(stopped), "num")]
        cells += [(r.cells[k], "num primary" if k == table.primary else "num")
                  for k in table.metrics]
        links = [(f"seed {run.seed}" + ("" if run.finished else " (stopped)"),
                  href(pages[run.folder], out)) for run in r.group.runs]
        rows.append({"cells": cells, "links": links})
    samples = []
    for group in groups:
        done = sorted(group.finished, key=lambda run: str(run.seed) != "0")
        if done:
            shown_run = done[0]
            samples.append((group.label, href(shown_run.final_samples, out),
                            f"seed {shown_run.seed}"))
        else:
            samples.append((group.label, None,
                            f"no final samples: all {len(group.runs)} run(s) stopped"))
    return render(
        "compare.html.j2", out / PAGE, title=f"Comparison: {out}", header=table.header,
        markdown=href(md, out),
        columns=[*table.keys, "seeds", "stopped", *map(scores.label, table.metrics)],
        rows=rows, curves_png=None if curves is None else href(curves, out), samples=samples)
