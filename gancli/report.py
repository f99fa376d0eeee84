"""Summarise a sweep of 2D-mixture runs into a table and one figure per loss.

`make compare` runs `gancli train -m experiment=ring8,grid25 loss=... train.seed=0,1,2` and then
`python -m gancli.report SWEEP_DIR`, which reads each job's composed config and the final mode
scores in its metrics.jsonl, averages over seeds, and writes `SWEEP_DIR/compare.md` (the table)
and `SWEEP_DIR/compare_<loss>.png` (seed 0's final scatter for each dataset, side by side).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from collections import defaultdict
from pathlib import Path

import yaml
from PIL import Image

from gancli.data.points import MIXTURES
from gancli.files import atomic_write


def job_summary(job: Path) -> dict | None:
    """Config choices, last mode scores and training time of one run folder (None if it has no
    mode scores, e.g. an image run). A run that stopped early (a diverged loss: training writes
    `samples/final.png` only when it completes) is marked `finished: False`."""
    cfg = yaml.safe_load((job / ".hydra" / "config.yaml").read_text())
    lines = [json.loads(ln) for ln in (job / "metrics.jsonl").read_text().splitlines()]
    scores = [r for r in lines if "modes_captured" in r]
    times = [r["elapsed_s"] for r in lines if "elapsed_s" in r]
    finished = (job / "samples" / "final.png").is_file()
    if not scores and (finished or cfg["data"]["name"] not in MIXTURES):
        return None  # an image run, not a 2D mixture
    loss = cfg["loss"]["name"]
    if loss == "fgan":
        loss = f"fgan-{cfg['loss']['divergence']}"
    if cfg["train"].get("n_critic", 1) != 1:
        loss += f" (n_critic {cfg['train']['n_critic']})"
    if not scores:  # stopped before its first scoring
        scores = [{"modes_captured": 0, "modes_total": 0, "hq_fraction": 0.0,
                   "reverse_kl": float("nan")}]
    return {"data": cfg["data"]["name"], "loss": loss, "seed": cfg["train"]["seed"],
            "job": job, **scores[-1], "time_s": times[-1] if times else float("nan"),
            "finished": finished}


def summarise(sweep: Path) -> tuple[str, dict[str, list[Path]]]:
    """The markdown table and, per loss, seed 0's final pictures. Means are over the runs that
    finished; `stopped` counts the seeds whose loss diverged (gancli stops those runs)."""
    jobs = [s for p in sorted(sweep.rglob("metrics.jsonl")) if (s := job_summary(p.parent))]
    groups: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for j in jobs:
        groups[(j["loss"], j["data"])].append(j)
    rows = ["| loss | data | seeds | stopped | modes | HQ % | reverse KL | time s |",
            "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for (loss, data), runs in sorted(groups.items()):
        done = [r for r in runs if r["finished"]]
        total = max(r["modes_total"] for r in runs)
        stopped = len(runs) - len(done)
        if not done:
            rows.append(f"| {loss} | {data} | {len(runs)} | {stopped} | — | — | — | — |")
            continue
        mean = {k: statistics.mean(r[k] for r in done)
                for k in ("modes_captured", "hq_fraction", "reverse_kl", "time_s")}
        rows.append(f"| {loss} | {data} | {len(runs)} | {stopped} | "
                    f"{mean['modes_captured']:.1f} / {total} | "
                    f"{100 * mean['hq_fraction']:.1f} | {mean['reverse_kl']:.3f} | "
                    f"{mean['time_s']:.0f} |")
    pictures: dict[str, list[Path]] = defaultdict(list)
    for j in sorted(jobs, key=lambda j: j["data"]):
        if j["seed"] == 0 and j["finished"]:
            name = j["loss"].replace(" (n_critic ", "-ncritic").rstrip(")")
            pictures[name].append(j["job"] / "samples" / "final.png")
    return "\n".join(rows) + "\n", pictures


def side_by_side(paths: list[Path], out: Path) -> Path:
    """Paste pictures left to right into one PNG."""
    images = [Image.open(p).convert("RGB") for p in paths]
    canvas = Image.new("RGB", (sum(i.width for i in images), max(i.height for i in images)),
                       "white")
    x = 0
    for img in images:
        canvas.paste(img, (x, 0))
        x += img.width
    return atomic_write(out, lambda f: canvas.save(f, format="PNG"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sweep", type=Path, help="a multirun folder (holds 0/, 1/, ...)")
    args = parser.parse_args(argv)
    table, pictures = summarise(args.sweep)
    atomic_write(args.sweep / "compare.md", lambda f: f.write(table.encode()))
    for loss, paths in pictures.items():
        side_by_side(paths, args.sweep / f"compare_{loss}.png")
    sys.stdout.write(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
