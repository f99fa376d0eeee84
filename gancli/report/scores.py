"""Which logged values are scores, which one ranks runs, which way is better, and how they are
written: taken from the metric registry (`gancli.evaluation.metrics.METRICS`), so a new metric
shows up in the report without a list here to update.
"""

from __future__ import annotations

import math

from gancli.evaluation.metrics import METRICS, higher_is_better
from gancli.report.runs import Run

#: What runs are ranked by when none has an evaluation: the loss's divergence estimate, as
#: last logged (lower is better).
DIVERGENCE = "divergence"

#: The training time, last logged: the table's last column.
ELAPSED = "elapsed_s"

#: How the table and pages name some keys; the others go by their own name.
LABELS = {"modes_captured": "modes", "hq_fraction": "HQ %", "reverse_kl": "reverse KL",
          "elapsed_s": "time s", "divergence": "divergence (last)"}

#: Values written in another's cell rather than a column of their own: modes as
#: "captured / total".
TOTALS = {"modes_captured": "modes_total"}


def is_score(key: str, value: object) -> bool:
    """A value some metric registers, numeric. Bookkeeping (`n_samples`, `dataset`,
    `features`, flags) is not, nor a `_std` key: the spread of one estimate (KID's, IS's
    over splits), shown beside its mean on the run page, not averaged over seeds."""
    return (isinstance(value, (int, float)) and not isinstance(value, bool)
            and not key.endswith("_std") and any(key in m.keys for m in METRICS.values()))


def scores(record: dict) -> dict[str, float]:
    """The scores of an evaluation line or eval.json, in the order written."""
    return {k: v for k, v in record.items() if is_score(k, v)}


def scored(run: Run) -> list[dict]:
    """The run's evaluation lines that hold a score: a picture's line may hold only values
    no metric registers."""
    return [r for r in run.evals if scores(r)]


def columns(keys: list[str]) -> list[str]:
    """`keys` less those written in another's cell (`TOTALS`)."""
    return [k for k in keys if k not in TOTALS.values()]


def primary(run: Run) -> str | None:
    """The value the run's evaluations were ranked by, as training picked it: `eval.primary`
    when set, else `fid` when computed, else the ranked-by value of the metric that wrote the
    first score (2D mode scores: `reverse_kl`). None: no evaluation."""
    final = scores(run.final_scores)
    if not final:
        return None
    chosen = (run.config.get("eval") or {}).get("primary")
    if chosen in final:
        return chosen
    if "fid" in final:
        return "fid"
    first = next(iter(final))
    return next((m.ranked_by for m in METRICS.values() if first in m.keys), first)


def better_high(key: str) -> bool:
    """Whether a higher value of `key` is better (the divergence estimate: lower)."""
    return key != DIVERGENCE and higher_is_better(key)


def label(key: str) -> str:
    """A column's name with the better direction: `fid ↓`, `psnr ↑` (time has none)."""
    name = LABELS.get(key, key)
    return name if key == ELAPSED else f"{name} {'↑' if better_high(key) else '↓'}"


def decimals(x: float) -> int:
    """Decimals for about four significant digits, as the README's tables write them."""
    size = abs(x)
    return 0 if size >= 1000 else 1 if size >= 100 else 2 if size >= 10 else 3 if size >= 1 \
        else 4


def number(key: str, x: float, like: float | None = None) -> str:
    """One value as the report writes it: a count as it is, HQ as a percentage, time in whole
    seconds, a mean count of modes with one decimal, others with the decimals `like`
    (default: `x` itself) needs, so a std has its mean's."""
    if isinstance(x, int):
        return str(x)
    if math.isnan(x):
        return "nan"
    if key == "hq_fraction":
        return f"{100 * x:.1f}"
    if key == ELAPSED:
        return f"{x:.0f}"
    if key in TOTALS:
        return f"{x:.1f}"
    return f"{x:.{decimals(x if like is None else like)}f}"
