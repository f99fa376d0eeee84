"""A run's evaluation lines as the report reads them: which hold scores, and which score the
run was ranked by. How values are named and written is `gancli.evaluation.display`'s, the one
way `gancli eval`'s console writes them too.
"""

from __future__ import annotations

from gancli.evaluation import display
from gancli.report.runs import Run


def scored(run: Run) -> list[dict]:
    """The run's evaluation lines that hold a score: a picture's line may hold only values
    no metric registers."""
    return [r for r in run.evals if display.scores(r)]


def primary(run: Run) -> str | None:
    """The value the run's evaluations during training were ranked by, as training picked it:
    `eval.primary` when set, else as `display.primary` says. None: no evaluation logged."""
    return display.primary(run.final_scores, (run.config.get("eval") or {}).get("primary"))
