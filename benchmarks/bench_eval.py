"""Where the time of `gancli eval` goes, for 10,000 MNIST samples on this machine.

Stages are timed one by one in-process: the classifier (cached after its first training), the
reference features (cached too), feature extraction of the samples, and each metric. The plain
reference is one bare forward pass of the same classifier over the same 10,000 images (no
batching logic, no conversions): each stage is printed as seconds and as a multiple of it. Then a
whole `gancli eval ckpt=...` of an MNIST checkpoint is timed end to end as a user's shell sees
it, cache warm (the issue's target: under 2 minutes here).

    .venv/bin/python benchmarks/bench_eval.py [--n 10000] [--data-root ../shared/data/mnist]

Figures only; it asserts nothing. The samples are MNIST test images (their prepared uint8
pixels): the time of a metric does not depend on what the images show.
"""

from __future__ import annotations

import argparse
import datetime
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from machine import machine

REPO = Path(__file__).resolve().parents[1]
GANCLI = Path(sys.executable).with_name("gancli")


def timed(label: str, fn, rows: list, unit: float | None = None, images: int | None = None):
    """Run `fn`, print and record its seconds (and images/s where it processes `images`)."""
    start = time.perf_counter()
    out = fn()
    seconds = time.perf_counter() - start
    rate = images / seconds if images else None
    rows.append((label, seconds, rate))
    ratio = f"  ({seconds / unit:.1f}× the bare forward pass)" if unit else ""
    speed = f"  {rate:,.0f} images/s" if rate else ""
    print(f"  {label:<46} {seconds:8.2f} s{ratio}{speed}", flush=True)
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=10_000)
    p.add_argument("--data-root", default=str(REPO.parent / "shared" / "data" / "mnist"))
    args = p.parse_args()
    os.environ.setdefault("GANCLI_CACHE", str(Path(tempfile.gettempdir()) / "gancli-bench-cache"))

    import torch
    from omegaconf import OmegaConf

    from gancli.config import EvalOptions
    from gancli.data import load_dataset
    from gancli.evaluation.evaluate import Evaluator
    from gancli.evaluation.features.classifier import load_classifier
    from gancli.evaluation.metrics import METRICS, Inputs
    from gancli.files import pixels_to_unit

    cpu = torch.device("cpu")
    data_cfg = OmegaConf.create(
        {"name": "mnist", "root": args.data_root, "resolution": 32, "num_points": 0}
    )
    print(
        f"{machine()}; torch "
        f"{torch.__version__}, {torch.get_num_threads()} threads; load average "
        f"{os.getloadavg()[0]:.2f}; cache {os.environ['GANCLI_CACHE']}"
    )
    rows: list[tuple[str, float]] = []
    model, acc, _ = timed(
        "classifier (train on first use, else load)", lambda: load_classifier(data_cfg, cpu), rows
    )
    samples = load_dataset(data_cfg, "test").pixels()[: args.n].contiguous()
    with torch.no_grad():
        x = pixels_to_unit(samples)
        bare = timed(
            f"reference: bare classifier forward, {len(x)} images",
            lambda: model(x),
            rows,
            images=len(x),
        )
    del bare
    unit = rows[-1][1]
    info = load_dataset(data_cfg, "train").info
    ev = timed(
        "evaluator set-up (reference features, cached)",
        lambda: Evaluator(
            OmegaConf.merge(OmegaConf.structured(EvalOptions), {}), data_cfg, info, cpu
        ),
        rows,
        unit,
    )
    fake = timed(
        f"feature extraction, {len(samples)} samples",
        lambda: ev.space.extract(samples),
        rows,
        unit,
        images=len(samples),
    )
    with tempfile.TemporaryDirectory() as tmp:
        inputs = Inputs(samples, fake, ev.real, ev, Path(tmp))
        for name in ev.metrics:
            timed(f"metric {name}", lambda name=name: METRICS[name](inputs), rows, unit)

    ckpt = Path(tempfile.gettempdir()) / "gancli-bench-mnist-run"
    if not (ckpt / "checkpoints" / "last.pt").is_file():
        subprocess.run(
            [
                str(GANCLI),
                "train",
                "data=mnist",
                f"data.root={args.data_root}",
                "train.steps=20",
                "train.log_every=10",
                f"hydra.run.dir={ckpt}",
            ],
            check=True,
            capture_output=True,
        )
    with tempfile.TemporaryDirectory() as tmp:
        timed(
            f"whole `gancli eval ckpt=<mnist run>` (eval.n={args.n}, cache warm)",
            lambda: subprocess.run(
                [str(GANCLI), "eval", f"ckpt={ckpt}", f"eval.n={args.n}", f"hydra.run.dir={tmp}"],
                check=True,
                capture_output=True,
            ),
            rows,
            unit,
        )
    print("\n| date | machine | stage | seconds | images/s |\n|---|---|---|---:|---:|")
    for label, seconds, rate in rows:
        print(
            f"| {datetime.date.today()} | {machine()} | {label} | {seconds:.2f} "
            f"| {f'{rate:,.0f}' if rate else '—'} |"
        )


if __name__ == "__main__":
    main()
