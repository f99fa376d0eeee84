"""Compare pix2pix's three objectives on one task: L1 only, GAN only, GAN + L1.

`make compare-pix2pix` trains the same task and data three times into `DIR/l1`, `DIR/gan` and
`DIR/gan_l1` (only `conditioning.adv_weight` / `conditioning.l1_weight` differ), then runs
`python -m gancli.report_pix2pix DIR`, which evaluates each checkpoint on the test split (L1,
PSNR, SSIM to the targets, FID of the outputs) and writes `DIR/compare.md` (the table) and
`DIR/compare.png` (one row per test example: input, the three outputs, target).

The lecture's claim, from Isola et al. 2017: L1 alone is blurry (good L1, poor FID), the GAN
alone is sharp but drifts from the input (poor L1), GAN + L1 has the best of both.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch
from omegaconf import OmegaConf

from gancli.checkpoint import load_checkpoint
from gancli.config import EvalAppConfig
from gancli.evaluation.run import run_eval
from gancli.files import atomic_write, save_image_grid
from gancli.models.latent import sample_latent
from gancli.runtime import resolve_device
from gancli.sampling import generate, load_generator

#: Run sub-folders, in table order, and how the table names them.
VARIANTS = {"l1": "L1 only (adv_weight 0)", "gan": "GAN only (l1_weight 0)",
            "gan_l1": "GAN + L1 (pix2pix)"}
SHOWN = 8


def evaluate(run: Path, n: int) -> dict:
    """eval.json values of `run`'s last checkpoint: translation scores and FID."""
    cfg = OmegaConf.structured(EvalAppConfig)
    cfg.ckpt = str(run)
    cfg.eval.n = n
    cfg.eval.metrics = ["translation", "fid"]
    result, _ = run_eval(cfg, run, [])
    return result


def outputs(run: Path, rows: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(inputs, outputs, targets) for the first `rows` test examples."""
    G, train_cfg, _, conditioning = load_generator(load_checkpoint(run), use_ema=True)
    device = resolve_device("auto")
    req = conditioning.eval_request(rows, torch.Generator().manual_seed(0))
    z = sample_latent(len(req.c), train_cfg.latent, torch.Generator().manual_seed(0))
    x = generate(G.to(device), z, device, c=req.c)
    return req.c, x, req.targets


def report(folder: Path, n: int) -> str:
    """Write compare.md and compare.png in `folder`; return the table."""
    runs = {k: folder / k for k in VARIANTS if (folder / k / "checkpoints" / "last.pt").is_file()}
    if not runs:
        raise SystemExit(f"no runs under {folder} (expected {', '.join(VARIANTS)} sub-folders "
                         "with checkpoints/last.pt; run `make compare-pix2pix`)")
    scores = {k: evaluate(run, n) for k, run in runs.items()}
    first = next(iter(scores.values()))
    lines = [f"pix2pix objectives on {first['dataset']}, test split, n={first['n_samples']} "
             f"(FID in the {first.get('features', '?')} feature space)", "",
             "| objective | L1 ↓ | PSNR dB ↑ | SSIM ↑ | FID ↓ |",
             "| --- | ---: | ---: | ---: | ---: |"]
    for k, result in scores.items():
        lines.append(f"| {VARIANTS[k]} | {result['l1']:.4f} | {result['psnr']:.2f} | "
                     f"{result['ssim']:.3f} | {result['fid']:.2f} |")
    table = "\n".join(lines) + "\n"
    atomic_write(folder / "compare.md", lambda f: f.write(table.encode()))
    columns = []
    for run in runs.values():
        inputs, out, targets = outputs(run, SHOWN)
        if not columns:
            columns.append(inputs.expand(-1, out.shape[1], -1, -1))
        columns.append(out)
    columns.append(targets)
    grid = torch.stack(columns, dim=1).flatten(0, 1)
    save_image_grid(grid, folder / "compare.png", nrow=len(columns))
    return table


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--n", type=int, default=10_000,
                        help="test examples scored (all of the split when it is smaller)")
    args = parser.parse_args(argv)
    sys.stdout.write(report(args.folder, args.n))


if __name__ == "__main__":
    main()
