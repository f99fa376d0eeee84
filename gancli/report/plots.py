"""The report's figures, drawn with matplotlib's object API (a `Figure` of its own, no pyplot
and no global backend: the Agg canvas renders it) and written atomically as PNG."""

from __future__ import annotations

import math
import statistics
from pathlib import Path

from matplotlib.axes import Axes
from matplotlib.figure import Figure

from gancli.files import atomic_write
from gancli.report import scores
from gancli.report.compare import Group
from gancli.report.runs import Run, Series

#: The training panels: title → (key, legend label) of each curve.
TRAINING_PANELS = {
    "losses": [("loss_d", "loss_d"), ("loss_g", "loss_g")],
    "D outputs": [("d_real", "D(x)"), ("d_fake", "D(G(z))")],
    "divergence estimate": [("divergence", "divergence")],
    "gradient norms": [("grad_norm_d", "D"), ("grad_norm_g", "G")],
}
#: The training pictures' diversity over the real images' (images: what the mode_collapse
#: alert watches), written on the pictures' own lines.
DIVERSITY = "preview_diversity"
DPI = 90


def save(fig: Figure, path: Path) -> Path:
    return atomic_write(path, lambda f: fig.savefig(f, format="png", dpi=DPI))


def eval_series(run: Run, key: str) -> Series:
    """`key`'s evaluation values over steps (the last line for a step wins)."""
    return {r["step"]: float(r[key]) for r in run.evals if scores.is_score(key, r.get(key))}


def _plot(ax: Axes, series: Series, label: str | None = None) -> None:
    steps = sorted(series)
    ax.plot(steps, [series[s] for s in steps], label=label,
            marker="o" if len(steps) < 12 else None, markersize=3)


def _panels(n: int, columns: int, size: tuple[float, float]) -> tuple[Figure, list[Axes]]:
    """`n` panels of `size` inches, `columns` to a row. The margins are fixed in inches (room
    for tick labels and a title) instead of measured by tight_layout, which took half of a
    report's time drawing each figure once more."""
    rows = math.ceil(n / columns)
    cols = min(n, columns)
    width, height = size[0] * cols, size[1] * rows
    fig = Figure(figsize=(width, height))
    fig.subplots_adjust(left=0.55 / width, right=1 - 0.15 / width, bottom=0.45 / height,
                        top=1 - 0.3 / height, wspace=0.6 / (size[0] - 0.6),
                        hspace=0.75 / (size[1] - 0.75))
    axes = [fig.add_subplot(rows, cols, i + 1) for i in range(n)]
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.tick_params(labelsize=8)
        ax.locator_params(nbins=5)
    return fig, axes


def training_figure(run: Run, path: Path) -> Path | None:
    """Losses, D outputs, the divergence estimate, gradient norms and the training
    pictures' diversity over steps, alerts marked; None when nothing was logged."""
    panels = {title: [(run.train[k], name) for k, name in curves if run.train.get(k)]
              for title, curves in TRAINING_PANELS.items()}
    diversity = {r["step"]: float(r[DIVERSITY]) for r in run.evals if DIVERSITY in r}
    panels["sample diversity (1: the real images')"] = [(diversity, "pictures")] \
        if diversity else []
    panels = {title: curves for title, curves in panels.items() if curves}
    if not panels:
        return None
    fig, axes = _panels(len(panels), 2, (5.0, 3.0))
    for ax, (title, curves) in zip(axes, panels.items(), strict=True):
        for series, name in curves:
            _plot(ax, series, name)
        for alert in run.alerts:
            ax.axvline(alert["step"], color="tab:red", alpha=0.4, linewidth=1)
        values = [v for s, _ in curves for v in s.values()]
        if title == "gradient norms" and min(values) > 0 and max(values) > 100 * min(values):
            ax.set_yscale("log")
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("step", fontsize=8)
        if len(curves) > 1:
            ax.legend(fontsize=8)
    return save(fig, path)


def eval_figure(run: Run, path: Path) -> Path | None:
    """One small panel per evaluation score over steps; None without evaluations."""
    keys = scores.columns(list(dict.fromkeys(k for r in run.evals for k in scores.scores(r))))
    if not keys:
        return None
    fig, axes = _panels(len(keys), 4, (3.0, 2.2))
    for ax, key in zip(axes, keys, strict=True):
        _plot(ax, eval_series(run, key))
        ax.set_title(scores.label(key), fontsize=9)
    return save(fig, path)


def mean_series(series: list[Series]) -> Series:
    """The mean over runs at each step some run logged."""
    steps = sorted({s for one in series for s in one})
    return {s: statistics.mean(one[s] for one in series if s in one) for s in steps}


def compare_figure(groups: list[Group], primary: str, path: Path) -> Path | None:
    """Each group's mean over seeds, overlaid: the divergence estimate, loss_d, and the
    primary evaluation score; None when no run logged any."""
    def of(run: Run, key: str) -> Series:
        return run.train.get(key, {}) if key in ("divergence", "loss_d") else \
            eval_series(run, key)

    keys = list(dict.fromkeys(["divergence", "loss_d", primary]))
    keys = [k for k in keys if any(of(r, k) for g in groups for r in g.runs)]
    if not keys:
        return None
    fig, axes = _panels(len(keys), 3, (4.2, 3.2))
    for ax, key in zip(axes, keys, strict=True):
        for group in groups:
            series = [s for r in group.runs if (s := of(r, key))]
            if series:
                _plot(ax, mean_series(series), group.label)
        name = key if key in ("divergence", "loss_d") else scores.label(key)
        ax.set_title(f"{name}, mean over seeds", fontsize=10)
        ax.set_xlabel("step", fontsize=8)
    axes[0].legend(fontsize=7, ncol=1 + len(groups) // 12)
    return save(fig, path)
