"""Is the generator copying its training set? Nearest-neighbour distances in pixel space.

A generator that reproduces training images scores well on FID and is useless. For each generated
image we find its nearest training image (Euclidean distance on [0, 1] pixels) and compare with
the same distance for held-out test images, which are real but were never trained on:

- `memorization_ratio`: median generated→train distance / median test→train distance. About 1
  (or above, for imperfect samples) for a generator that makes new images; near 0 for a copier.
- `memorized_fraction`: share of generated images closer to the training set than the 1st
  percentile of test images are; about 1% for held-out data by construction.
- `memorization_flag`: `memorized_fraction` above `FLAG_FRACTION`, i.e. five times what new
  real images show.

Pixel space, not a classifier's features, because copying is a statement about pixels: two
different drawings of a 3 sit close in a classifier's space. Test→train distances depend only on
the data and are cached. The closest (generated, training) pairs go to `memorization.png` for a
person to judge: a column of generated images, a column of their nearest training images, each
pair's distance beside it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import torch

from gancli.evaluation.cache import cache_key, cached
from gancli.files import atomic_write

if TYPE_CHECKING:
    from matplotlib.figure import Figure

CHUNK = 512
PERCENTILE = 0.01
FLAG_FRACTION = 0.05
PAIRS_SHOWN = 8
#: memorization.png's column titles.
COLUMNS = ("generated", "nearest\ntraining image")


def nearest(queries: torch.Tensor, bank: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Distance from each uint8 query image to its nearest `bank` image, and that image's index.

    `cdist` finds the neighbour through a matrix product (|a|² + |b|² - 2ab), fast but off by
    ~1e-3 in float32, so an exact copy would not score 0; the distance to the neighbour found is
    then recomputed directly, which costs one subtraction per query."""
    bank_f = bank.flatten(1).float().div_(255)
    dists, idx = [], []
    for chunk in queries.split(CHUNK):
        q = chunk.flatten(1).float().div_(255)
        best = torch.cdist(q, bank_f).argmin(1)
        dists.append((q - bank_f[best]).norm(dim=1))
        idx.append(best)
    return torch.cat(dists), torch.cat(idx)


def memorization(
    fake: torch.Tensor,
    train: torch.Tensor,
    test: torch.Tensor,
    data_key: dict,
    pairs_png: Path | None = None,
) -> dict[str, float | bool]:
    """Score uint8 images `fake` against uint8 `train` and held-out `test` (all N×C×H×W);
    `data_key` identifies train and test for the cache; write the closest pairs to `pairs_png`."""
    test_d = cached(
        cache_key("test-to-train", data_key), lambda: {"dist": nearest(test, train)[0]}
    )["dist"]
    fake_d, fake_nn = nearest(fake, train)
    threshold = torch.quantile(test_d.double(), PERCENTILE)
    fraction = float((fake_d.double() <= threshold).double().mean())
    ratio = float(fake_d.median() / test_d.median().clamp_min(1e-12))
    if pairs_png is not None:
        order = fake_d.argsort()[:PAIRS_SHOWN]
        fig = pairs_figure(fake[order], train[fake_nn[order]], fake_d[order].tolist())
        atomic_write(pairs_png, lambda f: fig.savefig(f, format="png", dpi=90))
    return {
        "memorization_ratio": ratio,
        "memorized_fraction": fraction,
        "memorization_flag": fraction > FLAG_FRACTION,
    }


def pairs_figure(fake: torch.Tensor, train: torch.Tensor, distances: list[float]) -> Figure:
    """Generated uint8 images (N×C×H×W) beside their nearest training images, one pair a row
    with its distance, the columns titled (`COLUMNS`); matplotlib's object API, no pyplot."""
    from matplotlib.figure import Figure

    rows = len(fake)
    height = 0.55 + 1.0 * rows
    fig = Figure(figsize=(3.4, height))
    fig.subplots_adjust(
        left=0.26, right=0.98, bottom=0.1 / height, top=1 - 0.45 / height, wspace=0.08, hspace=0.1
    )
    axes = fig.subplots(rows, 2, squeeze=False)
    for row, (pair, distance) in enumerate(
        zip(zip(fake, train, strict=True), distances, strict=True)
    ):
        for col, image in enumerate(pair):
            ax = axes[row][col]
            pixels = image.permute(1, 2, 0).numpy()
            ax.imshow(
                pixels[..., 0] if pixels.shape[-1] == 1 else pixels,
                cmap="gray",
                vmin=0,
                vmax=255,
                interpolation="nearest",
            )
            ax.set_xticks([])
            ax.set_yticks([])
            if row == 0:
                ax.set_title(COLUMNS[col], fontsize=9)
        axes[row][0].set_ylabel(
            f"distance\n{distance:.3f}", fontsize=8, rotation=0, ha="right", va="center"
        )
    return fig
