"""Drawing from a generator: batched generation, samples drawn for scoring (`generate_scored`,
for `gancli eval` and training's evaluations), a checkpoint's generator rebuilt, and `gancli
sample`, which writes a checkpoint's samples as its data's kind writes them (a PNG grid or a
scatter plot for 2D data, an `.npz`, or a folder of PNGs). An `.npz` or folder is generated and
written `sample.batch_size` samples at a time, so any `n` fits in memory; a grid holds them all,
and one too large to open is refused before any is drawn. Latents: `gancli.models.latent`."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import torch
from omegaconf import DictConfig, OmegaConf
from torch import nn

from gancli.checkpoint import load_checkpoint
from gancli.conditioning import Conditioning, build_conditioning
from gancli.config import validate
from gancli.data import DataInfo, load_dataset
from gancli.data.kinds import data_kind, out_format
from gancli.data.store.format import check_out
from gancli.errors import GancliError
from gancli.files import quantize
from gancli.launch.jobs import JobDevices
from gancli.models.latent import interpolation_latents, sample_latent
from gancli.threads import choose_threads

log = logging.getLogger("gancli.sample")


def run_generator(G: nn.Module, z: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
    """G(z), or G(z, c) for a conditional generator."""
    return G(z) if c is None else G(z, c)


@torch.no_grad()
def generate(
    G: nn.Module,
    z: torch.Tensor,
    device: torch.device,
    batch_size: int = 512,
    c: torch.Tensor | None = None,
) -> torch.Tensor:
    """G(z) (or G(z, c)) in inference mode (batch norm uses its running statistics, so a sample
    does not depend on what else is in its batch), returned on the CPU."""
    was_training = G.training
    G.eval()
    try:
        zs = z.split(batch_size)
        cs = [None] * len(zs) if c is None else c.split(batch_size)
        return torch.cat(
            [
                run_generator(G, zb.to(device), None if cb is None else cb.to(device)).float().cpu()
                for zb, cb in zip(zs, cs, strict=True)
            ]
        )
    finally:
        G.train(was_training)


def generated(
    G: nn.Module, latents: Iterable[torch.Tensor], c: torch.Tensor | None, device: torch.device
) -> Iterator[torch.Tensor]:
    """G's samples (on the CPU) of each chunk of `latents`, with the chunk's rows of `c`: one
    chunk in memory at a time, whatever the number of samples."""
    start = 0
    for z in latents:
        yield generate(G, z, device, len(z), None if c is None else c[start : start + len(z)])
        start += len(z)


@dataclass(frozen=True)
class ScoreDraw:
    """Which samples `generate_scored` draws: `n` for seed `seed`, their latents as `latent` (a
    training config's) says, generated `batch_size` at a time on `device`.

    With `part` (k, m), only samples k, k+m, k+2m, ... are generated (one process's share under
    torchrun); the latents and conditions are drawn for all n first, so the shares put back in
    order are exactly the samples of one process."""

    n: int
    seed: int
    latent: DictConfig
    device: torch.device
    batch_size: int = 512
    part: tuple[int, int] = (0, 1)


@dataclass
class Generated:
    """Samples to score, as their data's kind scores them (`DataKind.scored`: uint8 pixels for
    images, the same conversion a PNG gets; float points for 2D data); and, for conditional
    generators, what each was generated for."""

    samples: torch.Tensor
    labels: torch.Tensor | None = None
    unseen: torch.Tensor | None = None
    targets: torch.Tensor | None = None

    def score(self, evaluator: Callable[..., dict], out_dir: Path | None = None) -> dict:
        """`evaluator`'s scores of these samples (`gancli.evaluation.evaluate.Evaluator`)."""
        return evaluator(self.samples, out_dir, self.labels, self.unseen, self.targets)


def generate_scored(G: nn.Module, conditioning: Conditioning, draw: ScoreDraw) -> Generated:
    """The samples of G that `draw` names, conditioned as `conditioning.eval_request` says. With
    a `draw.part`, the conditions stay whole (every share knows them all)."""
    g = torch.Generator().manual_seed(draw.seed)
    req = conditioning.eval_request(draw.n, g)
    z = sample_latent(draw.n if req.c is None else len(req.c), draw.latent, g)
    k, m = draw.part
    x = generate(G, z[k::m], draw.device, draw.batch_size, None if req.c is None else req.c[k::m])
    return Generated(
        data_kind(conditioning.info).scored(x),
        req.labels,
        req.unseen,
        None if req.targets is None else quantize(req.targets),
    )


def load_generator(
    ckpt: dict, use_ema: bool, data: DictConfig | None = None
) -> tuple[nn.Module, DictConfig, DataInfo, Conditioning]:
    """Rebuild a checkpoint's generator (its EMA weights if asked and present) and the
    conditioning mode it was trained with. `data`: the data config in place of the training
    one, for a conditioning mode that reads the data (its captions, input images) where it is
    now (`data.root=`)."""
    cfg = OmegaConf.create(ckpt["config"])
    if data is not None:
        cfg = OmegaConf.merge(cfg, {"data": data})
    info = DataInfo.from_dict(ckpt["data_info"])
    conditioning = build_conditioning(cfg, info, ckpt.get("conditioning"))
    G, _ = conditioning.build()
    state = ckpt["G_ema"] if use_ema and ckpt.get("G_ema") is not None else ckpt["G"]
    G.load_state_dict(state)
    return G, cfg, info, conditioning


def run_sample(cfg: DictConfig, out: Path, devices: JobDevices | None = None) -> Path:
    """`gancli sample`: draw `cfg.n` samples with seed `cfg.seed` and write them to `out`.
    `devices` resolves `sample.device` (a sweep job's GPU claim); None: one of its own
    (outside a sweep: `resolve_device`)."""
    validate(cfg)
    fmt = out_format(out)
    if fmt == "folder":  # a folder of older samples would be mixed with the new ones
        check_out(out, cfg.overwrite, "the samples")
    ckpt = load_checkpoint(cfg.ckpt)
    G, train_cfg, info, conditioning = load_generator(ckpt, cfg.sample.ema)
    kind = data_kind(info, lambda n: load_dataset(train_cfg.data, "train").spread(n))
    device = (devices or JobDevices()).resolve(cfg.sample.device, "sample.device")
    threads = choose_threads(cfg.sample.threads, "sample.threads", device)
    G.to(device)
    g = torch.Generator().manual_seed(cfg.seed)
    chunk = cfg.sample.batch_size  # generated, converted and written at a time
    req = conditioning.request(cfg, cfg.n)
    c, nrow = req.c, req.nrow
    if cfg.sample.interpolate:
        if not (kind.interpolates and conditioning.interpolates):
            raise GancliError(
                "sample.interpolate=true walks G's latent space, which this "
                f"checkpoint's generator ({info.name}, conditioning="
                f"{train_cfg.conditioning.name}) does not have as an image grid"
            )
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
        count, latents = len(z), z.split(chunk)
    else:
        count = cfg.n if c is None else len(c)
        # Drawn chunk by chunk: sample i depends on the seed and i only (`sample_latent`).
        latents = (
            sample_latent(min(chunk, count - i), train_cfg.latent, g)
            for i in range(0, count, chunk)
        )
    chunks = generated(G, latents, c, device)
    if fmt == "png":
        kind.check_picture(count)
        x = torch.cat(list(chunks))
        path = kind.picture(x, conditioning.picture(x, req, nrow), out)
    else:
        arrays = {} if req.labels is None else {"labels": req.labels.numpy()}
        path = kind.write(chunks, count, out, arrays)
    log.info(
        "wrote %d samples of %s (step %d, %s generator) to %s",
        count,
        info.name,
        ckpt["step"],
        "EMA" if cfg.sample.ema and ckpt.get("G_ema") is not None else "raw",
        path,
    )
    log.info("%s", threads)
    return path
