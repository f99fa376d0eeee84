"""Runs grouped by what their command lines set differently, and the comparison table.

A sweep's jobs differ in the overrides it swept (`loss=ns,hinge train.seed=0,1`). The groups are
the runs that agree on every such override but the seed, which is what a group averages over.
A group's final scores are mean ± sample std over its runs that finished (those with
`samples/final.png`: a diverged run stops before it); `stopped` counts the others.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field

from gancli.evaluation import display
from gancli.evaluation.metrics import higher_is_better
from gancli.report import scores
from gancli.report.runs import Run

#: Override keys that never group: the seed is what a group averages over, and paths differ
#: between runs without changing what is compared.
NOT_GROUPED = ("train.seed", "data.root", "resume", "eval.inception_weights")
MISSING = "—"
#: The header's words when no run was evaluated: what is missing, and how to get it.
NO_SCORE = (
    "no comparable score, so not ranked (no run was evaluated while training, and "
    "the last divergence estimates of different losses are different quantities; "
    "train.eval_every=N evaluates every N steps, ranking by eval.primary)"
)


def override_key(override: str) -> str:
    """`loss=hinge` → `loss`; `+train.x=1` → `train.x`; `hydra/launcher=joblib` as it is."""
    return override.split("=", 1)[0].lstrip("+~")


def grouping_keys(runs: list[Run]) -> list[str]:
    """The override keys, in the order first seen, whose values are not the same for all
    runs, less `NOT_GROUPED` and Hydra's own (`hydra.*`, `hydra/...`)."""
    keys = dict.fromkeys(override_key(o) for run in runs for o in run.overrides)
    return [
        k
        for k in keys
        if k not in NOT_GROUPED
        and not k.startswith(("hydra.", "hydra/"))
        and len({repr(run.value(k)) for run in runs}) > 1
    ]


def value_text(value: object) -> str:
    """A config value as a table cell."""
    if value is None:
        return MISSING
    if isinstance(value, list):
        return "[" + ", ".join(map(str, value)) + "]"
    return str(value)


@dataclass
class Group:
    """The runs that share `values` (grouping key → value)."""

    values: dict[str, str]
    runs: list[Run] = field(default_factory=list)

    @property
    def label(self) -> str:
        """`loss=fgan, loss.divergence=kl`; keys a group has no value for are left out."""
        return ", ".join(f"{k}={v}" for k, v in self.values.items() if v != MISSING) or "all runs"

    @property
    def finished(self) -> list[Run]:
        return [r for r in self.runs if r.finished]


def group_runs(runs: list[Run], keys: list[str]) -> list[Group]:
    """Groups in the order their first run comes; runs in a group by seed."""
    groups: dict[tuple[str, ...], Group] = {}
    for run in runs:
        values = {k: value_text(run.value(k)) for k in keys}
        groups.setdefault(tuple(values.values()), Group(values)).runs.append(run)
    for group in groups.values():
        group.runs.sort(key=lambda r: str(r.seed))
    return list(groups.values())


def primary_of(runs: list[Run]) -> str | None:
    """What the comparison ranks by: the primary most runs were evaluated by; None when no run
    was evaluated. Never the loss's divergence estimate: one loss's estimate (a JS estimate)
    is another quantity than another's (a hinge gap), so ranking by it crowns no one fairly."""
    found = [p for p in map(scores.primary, runs) if p is not None]
    return statistics.mode(found) if found else None


def final_value(run: Run, key: str) -> float | None:
    """The run's final `key`: an evaluation score, or the last logged training value."""
    if key in display.UNRANKED:
        return run.last(key)
    value = display.scores(run.final_scores).get(key)
    return None if value is None else float(value)


def mean_std(values: list[float], key: str) -> str:
    """`mean ± std` (sample std; the mean alone for one value)."""
    mean = statistics.mean(values)
    if len(values) < 2:
        return display.number(key, mean)
    return f"{display.number(key, mean)} ± {display.number(key, statistics.stdev(values), mean)}"


@dataclass
class Row:
    """One group's line of the table: its cells by metric, as written."""

    group: Group
    cells: dict[str, str]
    #: The mean primary value over the finished runs (None: no finished run has one, or the
    #: table ranks nothing).
    rank: float | None


@dataclass
class Table:
    """The comparison: grouping keys, metric columns (the primary first), rows ranked by the
    primary (None: no run has a comparable score, rows in sweep order), and the line saying
    what was compared."""

    keys: list[str]
    metrics: list[str]
    primary: str | None
    rows: list[Row]
    header: str


def row(group: Group, metrics: list[str], primary: str | None) -> Row:
    """One group's cells: each metric's mean ± std over its finished runs; its rank, the mean
    of `primary`."""
    cells, rank = {}, None
    for key in metrics:
        values = [v for r in group.finished if (v := final_value(r, key)) is not None]
        if not values:
            cells[key] = MISSING
            continue
        cells[key] = mean_std(values, key)
        if key == primary:
            rank = statistics.mean(values)
        if total := display.TOTALS.get(key):
            totals = [v for r in group.runs if (v := final_value(r, total)) is not None]
            cells[key] += f" / {max(totals):.0f}" if totals else ""
    return Row(group, cells, rank)


def compare(runs: list[Run], source: str) -> Table:
    """The comparison of `runs` (found under `source`): groups ranked by the primary in its
    better direction, groups without a value last; without any evaluation, unranked groups
    with the last divergence estimate shown, not compared."""
    keys = grouping_keys(runs)
    groups = group_runs(runs, keys)
    primary = primary_of(runs)
    found = dict.fromkeys(k for r in runs if r.finished for k in display.scores(r.final_scores))
    if primary is None:
        metrics = [display.DIVERGENCE, display.ELAPSED]
    else:
        metrics = [
            primary,
            *(k for k in display.columns(list(found)) if k != primary),
            display.ELAPSED,
        ]
    sign = -1 if primary is not None and higher_is_better(primary) else 1
    rows = sorted(
        (row(g, metrics, primary) for g in groups),
        key=lambda r: (r.rank is None, sign * (r.rank or 0)),
    )
    return Table(keys, metrics, primary, rows, header(runs, groups, keys, primary, source))


def header(
    runs: list[Run], groups: list[Group], keys: list[str], primary: str | None, source: str
) -> str:
    """What was compared, from what, and at which step: the line above the table."""
    seeds = sorted({str(r.seed) for r in runs})
    if primary is None:
        steps = {step for r in runs if r.finished and (step := r.last_step) is not None}
        what = NO_SCORE
    else:
        steps = {
            max(e["step"] for e in evals)
            for r in runs
            if r.finished and (evals := scores.scored(r))
        }
        what = f"final evaluation ranked by {display.label(primary)}"
    at = (
        f"step {min(steps)}"
        if len(steps) == 1
        else f"steps {min(steps)}–{max(steps)}"
        if steps
        else "no finished run"
    )
    by = f"{len(groups)} groups by {', '.join(keys)}" if keys else "one group"
    return (
        f"{len(runs)} runs from {source} ({by}; seeds {', '.join(seeds)}): {what}, at "
        f"{at}; mean ± std over the seeds that finished; stopped: runs without "
        "samples/final.png."
    )


def markdown(table: Table) -> str:
    """compare.md: the header line, then the table."""
    names = [*table.keys, "seeds", "stopped", *map(display.label, table.metrics)]
    lines = [
        table.header,
        "",
        "| " + " | ".join(names) + " |",
        "| "
        + " | ".join(["---"] * len(table.keys) + ["---:"] * (len(names) - len(table.keys)))
        + " |",
    ]
    for r in table.rows:
        stopped = len(r.group.runs) - len(r.group.finished)
        cells = [*r.group.values.values(), str(len(r.group.runs)), str(stopped), *r.cells.values()]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
