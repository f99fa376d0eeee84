"""Datasets of any size: what preparing costs, and what training from a prepared dataset holds
in memory and waits for, against the embedded default in the same run.

    .venv/bin/python benchmarks/bench_data.py [--images 20000] [--small 1000] [--repeats 3]
                                              [--stream-gb 2] [--before REV] [--markdown-out FILE]

Figures (each a whole `gancli` process, so imports and start-up count as a user sees them):
- `gancli data prepare` of a folder of 64×64 RGB PNGs: images/s on this machine's cores;
- peak resident memory (ru_maxrss) of `train.steps=20` on the prepared large and small sets,
  one process and `torchrun --nproc_per_node=2` (the largest process), and, with
  `--before REV`, the same run of `data=folder` on the code of commit REV (the float copy);
- time until the first step's log line: the embedded default (`gancli train`), the large
  prepared set and prepared MNIST, each a second run (the cache and the page cache warm);
- streaming a prepared set of `--stream-gb` GB, larger than the budget this process allows
  itself (`--budget-mb`), through every item: resident memory before and after.

Training images/s from memory-mapped MNIST against the in-memory float path is a row of
`bench_train.py` (gancli vs the textbook loop, and its `data.placement=stream` row). This prints
figures; it asserts nothing about them.
"""

from __future__ import annotations

import argparse
import datetime
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from machine import emit_table, load_average, machine

REPO = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
GANCLI = [PYTHON, "-m", "gancli"]
TORCHRUN = Path(PYTHON).with_name("torchrun")
MNIST_ROOT = REPO.parent / "shared" / "data" / "mnist"
SIDE = 64
# Small steps: the figures are about the data, not the model.
TRAIN = [
    "model.width=16",
    "train.batch_size=64",
    "train.log_every=1",
    "train.sample_every=1000",
    "train.ckpt_every=1000",
    "train.device=cpu",
]
TABLE_HEADER = "| date | machine | figure | value | note |\n|---|---|---|---:|---|"


def make_pngs(folder: Path, n: int, seed: int = 0) -> Path:
    """`n` 64×64 RGB PNGs of smooth random colour fields (they compress like photos, not like
    noise), in two class folders."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(seed)
    for i in range(n):
        low = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)
        img = Image.fromarray(low).resize((SIDE, SIDE), Image.BICUBIC)
        path = folder / f"class{i % 2}" / f"{i:06d}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        img.save(path)
    return folder


def peak_mb(cmd: list[str], cwd: Path, env: dict | None = None) -> tuple[float, float]:
    """Run `cmd` in a fresh wrapper process; returns (its largest descendant's peak RSS in MB,
    wall seconds). ru_maxrss of RUSAGE_CHILDREN is the largest waited-for descendant's peak."""
    wrapper = (
        "import resource, subprocess, sys, time; t = time.perf_counter(); "
        "r = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, "
        "stderr=subprocess.PIPE, text=True); "
        "sys.stderr.write(r.stderr[-2000:] if r.returncode else ''); "
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, "
        "time.perf_counter() - t, r.returncode)"
    )
    out = subprocess.run(
        [PYTHON, "-c", wrapper, *cmd],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        check=True,
    )
    kb, wall, rc = out.stdout.split()
    if rc != "0":
        raise SystemExit(f"{' '.join(cmd)} failed:\n{out.stderr}")
    return int(kb) / 1024, float(wall)


def first_step_s(cmd: list[str], cwd: Path) -> float:
    """Seconds from launching `cmd` until it logs its first step."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    for line in proc.stderr:
        if line.startswith("step 1/"):
            took = time.perf_counter() - start
            break
    else:
        raise SystemExit(f"{' '.join(cmd)} logged no step")
    proc.stderr.read()
    proc.wait()
    return took


def stream_flat(gb: float, budget_mb: int, tmp: Path) -> str:
    """Stream every item of a prepared set of `gb` GB through the reader; resident memory
    before and after, against the budget."""
    import numpy as np
    import torch

    from gancli.data.store.format import PreparedWriter, open_prepared
    from gancli.data.store.stream import place

    n = int(gb * 2**30 / (SIDE * SIDE * 3))
    with PreparedWriter(tmp / "stream") as writer:
        split = writer.split("train", n, (SIDE, SIDE, 3))
        chunk = 4096
        for start in range(0, n, chunk):
            b = min(chunk, n - start)
            pixels = np.zeros((b, SIDE, SIDE, 3), dtype=np.uint8)
            pixels[:, 0, 0, 0] = np.arange(start, start + b) % 251  # says which row it is
            split.append(pixels, np.arange(start, start + b) % 10)
        writer.done("train", split)
        writer.finish("big", 10, [], "synthetic", {})
    data = place(open_prepared(tmp / "stream", "train"), torch.device("cpu"), "stream", False, 0)
    # Every item is reachable: stream the file in order by reading each batch's rows.
    before = rss_mb()
    batch = 512
    seen = 0
    start = time.perf_counter()
    for lo in range(0, n, batch):
        idx = torch.arange(lo, min(lo + batch, n))
        rows = data.stream.read(idx)
        assert int(rows[0, 0, 0, 0]) == lo % 251  # the row asked for
        seen += len(idx)
    took = time.perf_counter() - start
    read_all = rss_mb()
    for _ in range(50):  # and random training batches through the prefetching thread
        data.draw(batch, torch.Generator())
    after = rss_mb()
    data.stream.close()
    # The same pass through the memory map (data.placement=device on the CPU) for contrast:
    # its touched pages count as resident (reclaimable page cache, but resident; the kernel may
    # map them as 2 MB huge pages).
    for lo in range(0, n, 8192):
        int(data.rows[lo : lo + 8192].max())
    mapped = rss_mb()
    return (
        f"{seen:,} items ({gb:g} GB, {gb * 1024 / budget_mb:.0f}× the {budget_mb} MB "
        f"budget) read in {took:.0f} s; RSS {before:.0f} MB before, {read_all:.0f} MB after "
        f"reading every item, {after:.0f} MB after 50 prefetched batches of {batch} as floats; "
        f"the same pass through the memory map instead: {mapped:.0f} MB"
    )


def rss_mb() -> float:
    """This process's resident memory now."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--images", type=int, default=20_000)
    p.add_argument("--small", type=int, default=1_000)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--stream-gb", type=float, default=2.0)
    p.add_argument("--budget-mb", type=int, default=300)
    p.add_argument("--before", help="a commit whose data=folder run to measure too")
    p.add_argument("--markdown-out", type=Path)
    args = p.parse_args(argv)
    date, where = datetime.date.today().isoformat(), machine()
    print(f"{where}; {load_average()}")
    rows: list[str] = []

    def row(figure: str, value: str, note: str = "") -> None:
        print(f"{figure}: {value} {note}")
        rows.append(f"| {date} | {where} | {figure} | {value} | {note} |")

    with tempfile.TemporaryDirectory(prefix="gancli-bench-data-") as tmp_name:
        tmp = Path(tmp_name)
        env = {"GANCLI_CACHE": str(tmp / "cache")}
        os.environ.update(env)
        big, small = (make_pngs(tmp / f"png{n}", n) for n in (args.images, args.small))
        start = time.perf_counter()
        subprocess.run(
            [
                *GANCLI,
                "data",
                "prepare",
                f"source={big}",
                f"out={tmp / 'big'}",
                f"data.resolution={SIDE}",
            ],
            check=True,
            capture_output=True,
        )
        took = time.perf_counter() - start
        row(
            "data prepare, 64×64 PNGs",
            f"{args.images / took:.0f} img/s",
            f"{args.images:,} images in {took:.1f} s, whole command, {os.cpu_count()} workers",
        )
        subprocess.run(
            [
                *GANCLI,
                "data",
                "prepare",
                f"source={small}",
                f"out={tmp / 'small'}",
                f"data.resolution={SIDE}",
            ],
            check=True,
            capture_output=True,
        )

        def train(root: Path, *extra: str) -> list[str]:
            return [
                *GANCLI,
                "train",
                "data=prepared",
                f"data.root={root}",
                *TRAIN,
                "train.steps=20",
                *extra,
            ]

        peaks = {}
        for name in ("small", "big"):
            peaks[name] = min(peak_mb(train(tmp / name), tmp)[0] for _ in range(2))
        row(
            "peak RSS, train.steps=20, prepared 1 process",
            f"{peaks['big']:.0f} MB",
            f"{args.images:,} images; {args.small:,} images: "
            f"{peaks['small']:.0f} MB (+{peaks['big'] - peaks['small']:.0f} MB)",
        )
        if TORCHRUN.exists():
            cmd = [
                str(TORCHRUN),
                "--standalone",
                "--nproc_per_node=2",
                "-m",
                "gancli",
                *train(tmp / "big")[3:],
            ]
            ddp, _ = peak_mb(cmd, tmp, {"OMP_NUM_THREADS": "1"})
            row(
                "peak RSS, torchrun 2 processes, largest process",
                f"{ddp:.0f} MB",
                f"{args.images:,} prepared images; one process: {peaks['big']:.0f} MB "
                f"({ddp - peaks['big']:+.0f} MB)",
            )
        if args.before:
            old = tmp / "old"
            subprocess.run(
                ["git", "-C", str(REPO), "worktree", "add", "--detach", str(old), args.before],
                check=True,
                capture_output=True,
            )
            # The installed package maps gancli.conf to this checkout's conf/; the old code
            # needs its own, found first on sys.path.
            (old / "gancli" / "conf").symlink_to(old / "conf")
            try:
                cmd = [
                    PYTHON,
                    "-c",
                    "import sys; sys.path.insert(0, sys.argv.pop(1)); "
                    "from gancli.cli import main; sys.exit(main(sys.argv[1:]))",
                    str(old),
                    "train",
                    "data=folder",
                    f"data.root={big}",
                    f"data.resolution={SIDE}",
                    *TRAIN,
                    "train.steps=20",
                ]
                mb, wall = peak_mb(cmd, tmp)
                row(
                    f"peak RSS, same run as data=folder at {args.before[:8]}",
                    f"{mb:.0f} MB",
                    f"decoded into floats every run; {wall:.1f} s",
                )
            finally:
                subprocess.run(
                    ["git", "-C", str(REPO), "worktree", "remove", "--force", str(old)],
                    check=True,
                    capture_output=True,
                )

        firsts = {}
        commands = {
            "embedded default (digits)": [*GANCLI, "train", "train.steps=1", "train.log_every=1"],
            f"prepared {args.images:,} 64×64": train(tmp / "big", "train.steps=1"),
        }
        if (MNIST_ROOT / "train-images-idx3-ubyte.gz").is_file():
            commands["mnist (prepared in the cache)"] = [
                *GANCLI,
                "train",
                "data=mnist",
                f"data.root={MNIST_ROOT}",
                *TRAIN,
                "train.steps=1",
            ]
        for name, cmd in commands.items():
            first_step_s(cmd, tmp)  # the first run prepares the cache and warms the page cache
            firsts[name] = statistics.median(first_step_s(cmd, tmp) for _ in range(args.repeats))
        base = firsts["embedded default (digits)"]
        for name, took in firsts.items():
            row(
                f"time to first step, {name}",
                f"{took:.2f} s",
                f"{took / base:.2f}× the default; median of {args.repeats}, second runs",
            )

        row(
            "stream a set larger than the budget",
            f"{args.stream_gb:g} GB",
            stream_flat(args.stream_gb, args.budget_mb, tmp),
        )

    print(f"\nat the end: {load_average()}\n")
    emit_table(TABLE_HEADER, rows, args.markdown_out)


if __name__ == "__main__":
    main()
