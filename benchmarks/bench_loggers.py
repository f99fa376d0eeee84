"""What the loggers cost a run: the embedded default's config (8×8 digits at 16×16, DCGAN)
trained for `--steps` steps with `logger=jsonl` (metrics.jsonl alone, the reference),
`logger=tensorboard`, `logger=mlflow` (a fresh SQLite store per round) and both, each logging
every `--log-every` steps and writing a picture every `--sample-every`.

    .venv/bin/python benchmarks/bench_loggers.py [--steps 300] [--log-every 10] [--rounds 3]

Each round trains once with every setting, in turn, in this process (so imports are not
counted, but each logger's start, e.g. MLflow making its store, is); the ratio is the median of
per-round ratios to `jsonl`. This prints figures; it asserts nothing about them.
"""

from __future__ import annotations

import argparse
import datetime
import os
import statistics
import tempfile
import time
from pathlib import Path

import torch
from hydra import compose, initialize_config_module
from machine import emit_table, load_average, machine, spread

from gancli.config import register_configs
from gancli.training.loop import Trainer

SETTINGS = {
    "jsonl": "logger=jsonl",
    "tensorboard": "logger=tensorboard",
    "mlflow": "logger=mlflow",
    "both": "logger=[tensorboard,mlflow]",
}
TABLE_HEADER = (
    "| date | machine | steps | log every | logger | median s | ratio to jsonl "
    "(min–max) |\n|---|---|---:|---:|---|---:|---:|"
)


def train_once(logger: str, args: argparse.Namespace) -> float:
    """Seconds `Trainer.run` takes with `logger`, in a fresh folder (working directory too:
    the MLflow store goes under it)."""
    with tempfile.TemporaryDirectory() as tmp:
        cwd = os.getcwd()
        os.chdir(tmp)
        try:
            with initialize_config_module(config_module="gancli.conf", version_base="1.3"):
                cfg = compose(
                    config_name="train",
                    overrides=[
                        logger,
                        f"train.steps={args.steps}",
                        f"train.log_every={args.log_every}",
                        f"train.sample_every={args.sample_every}",
                        "train.device=cpu",
                    ],
                )
            (Path(tmp) / "run").mkdir()
            trainer = Trainer(cfg, Path(tmp) / "run")
            start = time.perf_counter()
            trainer.run()
            return time.perf_counter() - start
        finally:
            os.chdir(cwd)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--log-every", type=int, default=10)
    p.add_argument("--sample-every", type=int, default=100)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--markdown-out", type=Path)
    args = p.parse_args()
    register_configs()
    print(
        f"{machine()}; torch {torch.__version__}, {torch.get_num_threads()} threads; "
        f"{load_average()}"
    )
    train_once("logger=jsonl", args)  # warm-up: data cache, first-call costs
    seconds: dict[str, list[float]] = {name: [] for name in SETTINGS}
    for _ in range(args.rounds):
        for name, override in SETTINGS.items():
            seconds[name].append(train_once(override, args))
    rows = []
    for name, times in seconds.items():
        ratios = [t / ref for t, ref in zip(times, seconds["jsonl"], strict=True)]
        rows.append(
            f"| {datetime.date.today()} | {machine()} | {args.steps} | {args.log_every} "
            f"| {name} | {statistics.median(times):.2f} | {spread(ratios)} |"
        )
    print(f"at the end: {load_average()}")
    emit_table(TABLE_HEADER, rows, args.markdown_out)


if __name__ == "__main__":
    main()
