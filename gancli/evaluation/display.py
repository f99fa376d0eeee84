"""Evaluation values as people read them: one way of writing each value, used by `gancli eval`'s
console table, the report's pages and compare.md, so that a value reads the same on each (75.1 on
one and 0.7515 on another would be two quantities to a reader). eval.json and metrics.jsonl keep
the raw floats; what is written here is their rounding, never another unit.

Which values are scores, and which way is better, comes from the metric registry
(`gancli.evaluation.metrics.METRICS`), so a new metric is written like the others without a list
here to update.
"""

from __future__ import annotations

import json
import math

from gancli.evaluation.metrics import METRICS, higher_is_better

#: Training-log values the report's tables show beside scores: the training time and the loss's
#: divergence estimate, both as last logged. Neither ranks runs: the estimate of one loss is
#: another quantity than that of another (a JS estimate, a hinge gap).
ELAPSED = "elapsed_s"
DIVERGENCE = "divergence"
UNRANKED = (ELAPSED, DIVERGENCE)

#: How tables name some keys; the others go by their own name.
LABELS = {
    "modes_captured": "modes",
    "hq_fraction": "HQ fraction",
    "reverse_kl": "reverse KL",
    ELAPSED: "time s",
    DIVERGENCE: "divergence (last)",
}

#: Values written in another's cell rather than a row or column of their own: modes as
#: "captured / total".
TOTALS = {"modes_captured": "modes_total"}


def is_score(key: str, value: object) -> bool:
    """A numeric value some metric registers. Bookkeeping (`n_samples`, `dataset`, `features`,
    flags) is not, nor a `_std` key: the spread of one estimate (KID's, IS's over splits),
    written beside its mean, not averaged over seeds."""
    return (
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        and not key.endswith("_std")
        and any(key in m.keys for m in METRICS.values())
    )


def scores(record: dict) -> dict[str, float]:
    """The scores of an evaluation line or eval.json, in the order written."""
    return {k: v for k, v in record.items() if is_score(k, v)}


def columns(keys: list[str]) -> list[str]:
    """`keys` less those written in another's cell (`TOTALS`)."""
    return [k for k in keys if k not in TOTALS.values()]


def primary(record: dict, chosen: str | None = None) -> str | None:
    """The score an evaluation is ranked by, as `gancli eval` and training pick it: `chosen`
    (eval.primary) when the record has it, else `fid`, else the ranked-by value of the metric
    that wrote the first score (2D mode scores: `reverse_kl`). None: no score."""
    found = scores(record)
    if not found:
        return None
    if chosen in found:
        return chosen
    if "fid" in found:
        return "fid"
    first = next(iter(found))
    return next((m.ranked_by for m in METRICS.values() if first in m.keys), first)


def label(key: str) -> str:
    """A value's name with its better direction: `fid ↓`, `precision ↑` (the training time and
    the divergence estimate rank nothing and have none)."""
    name = LABELS.get(key, key)
    return name if key in UNRANKED else f"{name} {'↑' if higher_is_better(key) else '↓'}"


def decimals(x: float) -> int:
    """Decimals for about four significant digits, as the README's tables write them."""
    size = abs(x)
    return 0 if size >= 1000 else 1 if size >= 100 else 2 if size >= 10 else 3 if size >= 1 else 4


def number(key: str, x: float, like: float | None = None) -> str:
    """One value as every table writes it: a count as it is, time in whole seconds, a mean
    count of modes with one decimal, others with the decimals `like` (default: `x` itself)
    needs, so a std has its mean's. Fractions stay fractions (never percentages)."""
    if isinstance(x, int):
        return str(x)
    if math.isnan(x):
        return "nan"
    if key == ELAPSED:
        return f"{x:.0f}"
    if key in TOTALS:
        return f"{x:.1f}"
    return f"{x:.{decimals(x if like is None else like)}f}"


def text(key: str, value: object) -> str:
    """Any value of eval.json or an evaluation line as text: numbers as `number` writes them,
    strings as they are, the rest as JSON writes it (`false`, `null`)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return number(key, value)
    return value if isinstance(value, str) else json.dumps(value)


def score_rows(record: dict, primary_key: str | None) -> list[tuple[str, str, bool]]:
    """(label, value, is the primary) of each score of `record`: a `_mean` with its `_std`
    (`407.3 ± 8.1`), modes with their total (`8 / 10`)."""
    rows = []
    for key in columns(list(scores(record))):
        value = number(key, record[key])
        spread = record.get(key.removesuffix("_mean") + "_std") if key.endswith("_mean") else None
        if isinstance(spread, (int, float)) and not isinstance(spread, bool):
            value += f" ± {number(key, spread, record[key])}"
        if (total := TOTALS.get(key)) in record:
            value += f" / {record[total]}"
        rows.append((label(key), value, key == primary_key))
    return rows


def other_values(record: dict, leave_out: tuple[str, ...] = ()) -> list[tuple[str, str]]:
    """(key, text) of the values of `record` that `score_rows` does not write (bookkeeping:
    sample counts, feature space, flags), less `leave_out`."""
    folded = {k.removesuffix("_mean") + "_std" for k in scores(record) if k.endswith("_mean")}
    folded |= {TOTALS[k] for k in scores(record) if k in TOTALS}
    return [
        (k, text(k, v))
        for k, v in record.items()
        if k not in leave_out and k not in folded and not is_score(k, v)
    ]
