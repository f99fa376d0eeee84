"""Speed that survives a busy machine: the default run's (`gancli train`, the embedded default:
digits DCGAN) images/s with one CPU-bound process beside it, over its images/s alone.

    .venv/bin/python benchmarks/bench_busy.py [--steps 400] [--log-every 100] [--rounds 2]
                                  [--threads auto,1,2] [--hog torch|numpy] [--markdown-out FILE]

Each round runs `gancli train train.steps=N` as the user's shell would (the `gancli` script, so
its OpenMP wait policy applies) once alone and once beside a hog: a single-threaded loop of
256×256 matrix products (`torch` by default, or `numpy`), started here and killed when that run
ends, the kind of load another job or a browser puts on a core. Images/s is the median of the
run's own `imgs_per_s` lines in metrics.jsonl, less the first window (start-up, first-call
costs); the run's first line says how many threads it chose and how. On a machine with C cores
one hog takes 1/C of it, so the ideal ratio busy/alone is (C-1)/C: 0.5 on 2 cores. The issue
that asked for this (gancli 24) measured 0.06 before threads were chosen: two OpenMP threads
spinning at every barrier while the hog held one of their cores. `--threads` adds a row per
`train.threads` value (`auto` is the default run). This prints figures; it asserts nothing
about them, and a machine that other jobs are using too gives noisy ones.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from machine import emit_table, load_average, machine, spread

GANCLI = Path(sys.executable).with_name("gancli")
#: The busy process: one core's worth of arithmetic, whichever library a user's job runs.
HOGS = {
    "torch": "import torch\ntorch.set_num_threads(1)\na = torch.rand(256, 256)\n"
    "while True:\n    a = torch.tanh(a @ a)\n",
    "numpy": "import numpy as np\na = np.random.rand(256, 256)\n"
    "while True:\n    a = np.tanh(a @ a)\n",
}
#: Keeps the hog on one thread whichever BLAS or OpenMP it loads.
ONE_THREAD = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
TABLE_HEADER = (
    "| date | machine | train.threads | threads alone (busy) | img/s alone "
    "| img/s busy | ratio busy/alone (min–max) |\n|---|---|---|---|---:|---:|---|"
)


def cpu_flags() -> str:
    """The CPU's matrix extensions that torch's CPU kernels use when present."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return "flags unknown"
    flags = next(
        (line.split(":", 1)[1].split() for line in text.splitlines() if line.startswith("flags")),
        [],
    )
    found = [f for f in flags if f.startswith("amx") or f == "avx512_bf16"]
    return "flags: " + (" ".join(found) if found else "no amx, no avx512_bf16")


def train(threads: str, args: argparse.Namespace, folder: Path) -> tuple[float, dict]:
    """One `gancli train` of the default config; its images/s and metrics.jsonl's first line."""
    subprocess.run(
        [
            str(GANCLI),
            "train",
            f"train.steps={args.steps}",
            f"train.log_every={args.log_every}",
            f"train.threads={threads}",
            f"hydra.run.dir={folder}",
        ],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    lines = [json.loads(x) for x in (folder / "metrics.jsonl").read_text().splitlines()]
    rates = [r["imgs_per_s"] for r in lines if "imgs_per_s" in r]
    return statistics.median(rates[1:] or rates), lines[0]


@contextmanager
def hog_running(hog: str) -> Iterator[None]:
    """The hog computes during the `with` block; it is killed however the block ends."""
    proc = subprocess.Popen([sys.executable, "-c", HOGS[hog]], env={**os.environ, **ONE_THREAD})
    try:
        time.sleep(1.0)  # its imports done, it computes
        yield
    finally:
        proc.kill()
        proc.wait()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=400, help="train.steps of each run")
    p.add_argument("--log-every", type=int, default=100, help="train.log_every (the windows)")
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--threads", default="auto", help="train.threads values, comma-separated")
    p.add_argument("--hog", choices=sorted(HOGS), default="torch")
    p.add_argument("--markdown-out", type=Path)
    args = p.parse_args()
    omp = {k: os.environ[k] for k in ("OMP_NUM_THREADS", "OMP_WAIT_POLICY") if k in os.environ}
    print(
        f"{machine()}; {cpu_flags()}; python {sys.version.split()[0]}; {load_average()}; "
        f"environment: {omp or 'no OMP_NUM_THREADS or OMP_WAIT_POLICY set'}"
    )
    print(
        f"the default run for {args.steps} steps, alone and beside a 1-thread {args.hog} "
        f"matmul loop, {args.rounds} round(s)"
    )
    rows = []
    with tempfile.TemporaryDirectory(prefix="gancli-busy-") as tmp:
        for threads in args.threads.split(","):
            alone, busy, chosen = [], [], ([], [])
            for r in range(args.rounds):
                rate, first = train(threads, args, Path(tmp) / f"{threads}-alone-{r}")
                alone.append(rate)
                chosen[0].append(first["threads"])
                print(
                    f"  train.threads={threads} round {r}: alone {rate:7.0f} img/s "
                    f"({first.get('threads_choice', first['threads'])})"
                )
                with hog_running(args.hog):
                    rate, first = train(threads, args, Path(tmp) / f"{threads}-busy-{r}")
                busy.append(rate)
                chosen[1].append(first["threads"])
                print(
                    f"  train.threads={threads} round {r}: busy  {rate:7.0f} img/s "
                    f"({first.get('threads_choice', first['threads'])})"
                )
            ratios = [b / a for a, b in zip(alone, busy, strict=True)]
            rows.append(
                f"| {datetime.date.today()} | {machine()}, {cpu_flags()} | {threads} "
                f"| {'/'.join(map(str, chosen[0]))} ({'/'.join(map(str, chosen[1]))}) "
                f"| {statistics.median(alone):.0f} | {statistics.median(busy):.0f} "
                f"| {spread(ratios)} |"
            )
    print(f"at the end: {load_average()}")
    emit_table(TABLE_HEADER, rows, args.markdown_out)


if __name__ == "__main__":
    main()
