"""Drawing from a generator: latent distributions, batched generation, latent interpolation, and
`gancli sample`, which writes a checkpoint's samples as a PNG grid (a scatter plot for 2D data),
an `.npz`, or a folder of PNGs."""

from __future__ import annotations

import logging
import math
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf
from torch import nn

from gancli.checkpoint import load_checkpoint
from gancli.conditioning import Conditioning, build_conditioning
from gancli.data import DataInfo, load_dataset
from gancli.errors import GancliError
from gancli.files import save_image_folder, save_image_grid, save_npz, save_scatter, to_uint8
from gancli.runtime import resolve_device

log = logging.getLogger("gancli.sample")

LatentSampler = Callable[..., torch.Tensor]
# The simple distributions G maps from (`latent.dist`): standard normal, or uniform on [-1, 1].
LATENTS: dict[str, LatentSampler] = {
    "normal": lambda shape, **kw: torch.randn(shape, **kw),
    "uniform": lambda shape, **kw: torch.rand(shape, **kw) * 2 - 1,
}


def sample_latent(n: int, latent: DictConfig, generator: torch.Generator | None = None,
                  device: torch.device | None = None) -> torch.Tensor:
    """`n` latent vectors of size `latent.dim` from `latent.dist`.

    With a `generator` (reproducible sampling) the rows are drawn one at a time: torch's
    vectorised CPU sampler fills a large tensor differently from a small one, and drawing row by
    row makes sample i depend only on the seed and i, not on how many are asked for.
    """
    draw = LATENTS[getattr(latent.dist, "value", latent.dist)]
    if generator is None:
        return draw((n, latent.dim), device=device)
    return torch.cat([draw((1, latent.dim), generator=generator) for _ in range(n)]).to(device)


def run_generator(G: nn.Module, z: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
    """G(z), or G(z, c) for a conditional generator."""
    return G(z) if c is None else G(z, c)


@torch.no_grad()
def generate(G: nn.Module, z: torch.Tensor, device: torch.device, batch_size: int = 512,
             c: torch.Tensor | None = None) -> torch.Tensor:
    """G(z) (or G(z, c)) in inference mode (batch norm uses its running statistics, so a sample
    does not depend on what else is in its batch), returned on the CPU."""
    was_training = G.training
    G.eval()
    try:
        zs = z.split(batch_size)
        cs = [None] * len(zs) if c is None else c.split(batch_size)
        return torch.cat([run_generator(G, zb.to(device), None if cb is None else cb.to(device))
                          .float().cpu() for zb, cb in zip(zs, cs, strict=True)])
    finally:
        G.train(was_training)


def slerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Spherical interpolation between rows of `a` and `b` at fractions `t` (White 2016): keeps
    interpolated normal latents at the norm G was trained on, which a straight line would not.
    Written here because torch has no slerp."""
    a_n, b_n = a / a.norm(dim=-1, keepdim=True), b / b.norm(dim=-1, keepdim=True)
    omega = torch.acos((a_n * b_n).sum(-1, keepdim=True).clamp(-1 + 1e-7, 1 - 1e-7))
    so = torch.sin(omega)
    return (torch.sin((1 - t) * omega) / so) * a + (torch.sin(t * omega) / so) * b


def interpolation_latents(rows: int, steps: int, latent: DictConfig,
                          generator: torch.Generator) -> torch.Tensor:
    """`rows` paths of `steps` latents each, row-major: slerp for normal latents, straight lines
    for uniform ones (whose support is a cube)."""
    ends = sample_latent(2 * rows, latent, generator).view(rows, 2, 1, -1)
    t = torch.linspace(0, 1, steps).view(1, steps, 1)
    a, b = ends[:, 0], ends[:, 1]
    dist = getattr(latent.dist, "value", latent.dist)
    z = slerp(a, b, t) if dist == "normal" else torch.lerp(a, b, t)
    return z.reshape(rows * steps, -1)


def load_generator(ckpt: dict, use_ema: bool
                   ) -> tuple[nn.Module, DictConfig, DataInfo, Conditioning]:
    """Rebuild a checkpoint's generator (its EMA weights if asked and present) and the
    conditioning mode it was trained with."""
    cfg = OmegaConf.create(ckpt["config"])
    info = DataInfo.from_dict(ckpt["data_info"])
    conditioning = build_conditioning(cfg, info, ckpt.get("conditioning"))
    G, _ = conditioning.build()
    state = ckpt["G_ema"] if use_ema and ckpt.get("G_ema") is not None else ckpt["G"]
    G.load_state_dict(state)
    return G, cfg, info, conditioning


def write_samples(x: torch.Tensor, out: Path, info: DataInfo, train_cfg: DictConfig,
                  nrow: int | None = None, picture: torch.Tensor | None = None,
                  arrays: dict[str, np.ndarray] | None = None) -> Path:
    """Write generated data in the format `out` names: `.png` (the grid of `picture`, by
    default the samples themselves), `.npz` (plus `arrays`, e.g. the labels), or a folder."""
    points = info.kind == "points"
    if out.suffix == ".npz":
        data = {"points": x.numpy().astype("float32")} if points else {"images": to_uint8(x)}
        return save_npz(out, **data, **(arrays or {}))
    if out.suffix == ".png":
        if points:
            real = load_dataset(train_cfg.data, "train").x[:5000]
            return save_scatter(x, real, out, f"{info.name}: {len(x)} samples")
        return save_image_grid(x if picture is None else picture, out, nrow)
    if out.suffix == "" or out.is_dir():
        if points:
            raise GancliError(f"2D point samples cannot be written as a folder of images: "
                              f"give out=FILE.png (scatter plot) or out=FILE.npz, not {out}")
        return save_image_folder(x, out)
    raise GancliError(f"cannot write samples as '{out.suffix}': use out=FILE.png (grid), "
                      "out=FILE.npz (arrays) or out=FOLDER (one PNG per sample); "
                      "JPEG is not offered since it distorts evaluation")


def run_sample(cfg: DictConfig, out: Path) -> Path:
    """`gancli sample`: draw `cfg.n` samples with seed `cfg.seed` and write them to `out`."""
    if cfg.n < 1:
        raise GancliError(f"n must be at least 1, got {cfg.n}")
    ckpt = load_checkpoint(cfg.ckpt)
    G, train_cfg, info, conditioning = load_generator(ckpt, cfg.sample.ema)
    device = resolve_device(cfg.sample.device)
    G.to(device)
    g = torch.Generator().manual_seed(cfg.seed)
    req = conditioning.request(cfg, cfg.n)
    c, nrow = req.c, req.nrow
    if cfg.sample.interpolate:
        if info.kind == "points" or not conditioning.interpolates:
            raise GancliError("sample.interpolate=true walks G's latent space, which this "
                              f"checkpoint's generator ({info.name}, conditioning="
                              f"{train_cfg.conditioning.name}) does not have as an image grid")
        nrow = cfg.sample.steps
        if c is None:
            rows = max(1, math.ceil(cfg.n / nrow))
        else:  # one row per requested label or prompt; only z moves along a row
            first = torch.arange(0, len(c), req.nrow or 1)
            rows = len(first)
            c = c[first].repeat_interleave(nrow, dim=0)
            if req.labels is not None:
                req.labels = req.labels[first].repeat_interleave(nrow)
        z = interpolation_latents(rows, nrow, train_cfg.latent, g)
    else:
        z = sample_latent(cfg.n if c is None else len(c), train_cfg.latent, g)
    x = generate(G, z, device, cfg.sample.batch_size, c)
    picture, nrow = conditioning.picture(x, req, nrow)
    arrays = {} if req.labels is None else {"labels": req.labels.numpy()}
    path = write_samples(x, out, info, train_cfg, nrow, picture, arrays)
    log.info("wrote %d samples of %s (step %d, %s generator) to %s", len(x), info.name,
             ckpt["step"], "EMA" if cfg.sample.ema and ckpt.get("G_ema") is not None else "raw",
             path)
    return path


def sample_from_hydra(cfg: DictConfig) -> None:
    """`gancli sample`'s body: default output in the command's run folder; prints the path."""
    from hydra.core.hydra_config import HydraConfig

    out = Path(cfg.out) if cfg.out else Path(HydraConfig.get().runtime.output_dir) / "samples.png"
    path = run_sample(cfg, out)
    sys.stdout.write(f"{path}\n")
    sys.stdout.flush()
