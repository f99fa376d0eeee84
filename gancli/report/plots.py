"""The report's figures, drawn with matplotlib's object API (a `Figure` of its own, no pyplot
and no global backend: the Agg canvas renders it) and written atomically as PNG.

Every panel names both axes, and a curve of one point is drawn as a marker with its value
written beside it: a line through one point draws nothing, and an axis scaled around one
value says nothing."""

from __future__ import annotations

import math
import statistics
from pathlib import Path

from matplotlib.axes import Axes
from matplotlib.figure import Figure

from gancli.evaluation import display
from gancli.files import atomic_write
from gancli.report.compare import Group
from gancli.report.runs import Run, Series

#: The training panels: title → (y axis label, (key, legend label) of each curve).
TRAINING_PANELS = {
    "losses": ("loss", [("loss_d", "loss_d"), ("loss_g", "loss_g")]),
    "D outputs": ("mean D output", [("d_real", "D(x)"), ("d_fake", "D(G(z))")]),
    "divergence estimate": ("estimate (the loss's own units)", [("divergence", "divergence")]),
    "gradient norms": ("L2 norm", [("grad_norm_d", "D"), ("grad_norm_g", "G")]),
}
#: The training pictures' diversity over the real images' (images: what the mode_collapse
#: alert watches), written on the pictures' own lines.
DIVERSITY = "preview_diversity"
DIVERSITY_PANEL = "sample diversity (1: the real images')"
DPI = 90
STEP = "step"


def save(fig: Figure | None, path: Path) -> Path | None:
    """`fig` as a PNG at `path`; None for no figure."""
    if fig is None:
        return None
    return atomic_write(path, lambda f: fig.savefig(f, format="png", dpi=DPI))


def eval_series(run: Run, key: str) -> Series:
    """`key`'s evaluation values over steps (the last line for a step wins)."""
    return {r["step"]: float(r[key]) for r in run.evals if display.is_score(key, r.get(key))}


def _plot(ax: Axes, series: Series, label: str | None = None, key: str = "") -> None:
    """One curve; a curve of one point: its marker, with its value written beside it."""
    steps = sorted(series)
    values = [series[s] for s in steps]
    (line,) = ax.plot(
        steps,
        values,
        label=label,
        marker="o" if len(steps) < 12 else None,
        markersize=3 if len(steps) > 1 else 6,
    )
    if len(steps) == 1:
        ax.margins(y=0.25)  # room for the value above the highest point
        ax.annotate(
            f"{display.number(key, values[0])} at step {steps[0]}",
            (steps[0], values[0]),
            xytext=(6, 6),
            textcoords="offset points",
            fontsize=8,
            color=line.get_color(),
        )


def _labels(ax: Axes, title: str, ylabel: str, fontsize: int = 10) -> None:
    ax.set_title(title, fontsize=fontsize)
    ax.set_xlabel(STEP, fontsize=8)
    ax.set_ylabel(ylabel, fontsize=8)


def _panels(n: int, columns: int, size: tuple[float, float]) -> tuple[Figure, list[Axes]]:
    """`n` panels of `size` inches, `columns` to a row. The margins are fixed in inches (room
    for tick labels, the axes' labels and a title) instead of measured by tight_layout, which
    took half of a report's time drawing each figure once more."""
    rows = math.ceil(n / columns)
    cols = min(n, columns)
    width, height = size[0] * cols, size[1] * rows
    fig = Figure(figsize=(width, height))
    fig.subplots_adjust(
        left=0.8 / width,
        right=1 - 0.15 / width,
        bottom=0.45 / height,
        top=1 - 0.3 / height,
        wspace=0.85 / (size[0] - 0.85),
        hspace=0.75 / (size[1] - 0.75),
    )
    axes = [fig.add_subplot(rows, cols, i + 1) for i in range(n)]
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.tick_params(labelsize=8)
        ax.locator_params(nbins=5)
    return fig, axes


def training_figure(run: Run) -> Figure | None:
    """Losses, D outputs, the divergence estimate, gradient norms and the training
    pictures' diversity over steps, alerts marked; None when nothing was logged."""
    panels = {
        title: (ylabel, [(run.train[k], name) for k, name in curves if run.train.get(k)])
        for title, (ylabel, curves) in TRAINING_PANELS.items()
    }
    diversity = {r["step"]: float(r[DIVERSITY]) for r in run.evals if DIVERSITY in r}
    panels[DIVERSITY_PANEL] = (
        "diversity / the real images'",
        [(diversity, "pictures")] if diversity else [],
    )
    panels = {title: panel for title, panel in panels.items() if panel[1]}
    if not panels:
        return None
    fig, axes = _panels(len(panels), 2, (5.0, 3.0))
    for ax, (title, (ylabel, curves)) in zip(axes, panels.items(), strict=True):
        for series, name in curves:
            _plot(ax, series, name)
        for alert in run.alerts:
            ax.axvline(alert["step"], color="tab:red", alpha=0.4, linewidth=1)
        values = [v for s, _ in curves for v in s.values()]
        if title == "gradient norms" and min(values) > 0 and max(values) > 100 * min(values):
            ax.set_yscale("log")
        _labels(ax, title, ylabel)
        if len(curves) > 1:
            ax.legend(fontsize=8)
    return fig


def eval_figure(run: Run) -> Figure | None:
    """One small panel per evaluation score over steps; None without evaluations."""
    keys = display.columns(list(dict.fromkeys(k for r in run.evals for k in display.scores(r))))
    if not keys:
        return None
    fig, axes = _panels(len(keys), 4, (3.0, 2.2))
    for ax, key in zip(axes, keys, strict=True):
        _plot(ax, eval_series(run, key), key=key)
        _labels(ax, display.label(key), display.LABELS.get(key, key), fontsize=9)
    return fig


def mean_series(series: list[Series]) -> Series:
    """The mean over runs at each step some run logged."""
    steps = sorted({s for one in series for s in one})
    return {s: statistics.mean(one[s] for one in series if s in one) for s in steps}


def compare_figure(groups: list[Group], primary: str | None) -> Figure | None:
    """Each group's mean over seeds, overlaid: the divergence estimate, loss_d, and the
    primary evaluation score (when there is one); None when no run logged any."""
    logged = (display.DIVERGENCE, "loss_d")

    def of(run: Run, key: str) -> Series:
        return run.train.get(key, {}) if key in logged else eval_series(run, key)

    keys = list(dict.fromkeys([*logged, *([primary] if primary else [])]))
    keys = [k for k in keys if any(of(r, k) for g in groups for r in g.runs)]
    if not keys:
        return None
    fig, axes = _panels(len(keys), 3, (4.2, 3.2))
    for ax, key in zip(axes, keys, strict=True):
        for group in groups:
            series = [s for r in group.runs if (s := of(r, key))]
            if series:
                _plot(ax, mean_series(series), group.label, key)
        name = key if key in logged else display.label(key)
        _labels(
            ax, f"{name}, mean over seeds", key if key in logged else display.LABELS.get(key, key)
        )
    axes[0].legend(fontsize=7, ncol=1 + len(groups) // 12)
    return fig
