"""`gancli eval`'s body: get samples (from a checkpoint's generator, or a file or folder), score
them with an `Evaluator`, write `eval.json` in the command's run folder and show a table.

What can be checked without work is checked first: a samples file's shape against the data, a
checkpoint's data against a `data=` on the command line, `eval.primary` against `eval.metrics`,
before a generator runs or a classifier trains."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf

from gancli.checkpoint import load_checkpoint
from gancli.conditioning import Conditioning
from gancli.config import validate
from gancli.data import DataInfo, load_dataset
from gancli.data.kinds import data_kind
from gancli.errors import GancliError
from gancli.evaluation import display
from gancli.evaluation.evaluate import Evaluator
from gancli.files import atomic_write, quantize
from gancli.jobs import JobDevices
from gancli.models.latent import sample_latent
from gancli.sampling import generate, load_generator
from gancli.threads import choose_threads

log = logging.getLogger("gancli.eval")


@dataclass
class Generated:
    """Samples to score: uint8 pixels for images (the same conversion a PNG gets), float points
    for 2D data; and, for conditional generators, what each was generated for."""

    samples: torch.Tensor
    labels: torch.Tensor | None = None
    unseen: torch.Tensor | None = None
    targets: torch.Tensor | None = None

    def score(self, evaluator: Evaluator, out_dir: Path | None = None) -> dict:
        return evaluator(self.samples, out_dir, self.labels, self.unseen, self.targets)


def generated_samples(G: torch.nn.Module, train_cfg: DictConfig, info: DataInfo, n: int,
                      seed: int, device: torch.device, batch_size: int,
                      conditioning: Conditioning, part: tuple[int, int] = (0, 1)) -> Generated:
    """`n` samples of G for seed `seed`, conditioned as `conditioning.eval_request` says.

    With `part` (k, m), only samples k, k+m, k+2m, ... are generated (one process's share under
    torchrun); the latents and conditions are drawn for all n first, so the shares put back in
    order are exactly the samples of one process. The other fields stay whole."""
    g = torch.Generator().manual_seed(seed)
    req = conditioning.eval_request(n, g)
    z = sample_latent(n if req.c is None else len(req.c), train_cfg.latent, g)
    k, m = part
    x = generate(G, z[k::m], device, batch_size, None if req.c is None else req.c[k::m])
    return Generated(data_kind(info).scored(x), req.labels, req.unseen,
                     None if req.targets is None else quantize(req.targets))


def read_samples(path: str) -> torch.Tensor:
    """Samples from an `.npz` (`images` uint8 N×H×W×C, or `points` N×2) or a folder of PNGs:
    uint8 N×C×H×W pixels or float N×2 points."""
    p = Path(path).expanduser()
    if p.suffix == ".npz" and p.is_file():
        try:
            with np.load(p, allow_pickle=False) as f:
                if "points" in f:
                    return torch.as_tensor(f["points"], dtype=torch.float32)
                if "images" not in f:
                    raise GancliError(f"{p} has neither 'images' (uint8 N×H×W×C) nor 'points' "
                                      f"(N×2) arrays; it has: {', '.join(f.files) or 'nothing'}")
                images = f["images"]
        except GancliError:
            raise
        except Exception as err:  # truncated zip, object arrays (pickles are never loaded), ...
            raise GancliError(f"{p} is not a readable samples file ({str(err).splitlines()[0]}); "
                              "write one with gancli sample out=FILE.npz") from None
        if images.dtype != np.uint8 or images.ndim != 4:
            raise GancliError(f"{p}: 'images' must be uint8 N×H×W×C, got {images.dtype} with "
                              f"shape {images.shape}")
        return torch.as_tensor(images).permute(0, 3, 1, 2).contiguous()
    if p.is_dir():
        return read_png_folder(p)
    raise GancliError(f"samples={path} is neither an .npz file nor a folder of PNGs "
                      "(gancli sample out=FILE.npz or out=FOLDER writes both)")


def read_png_folder(folder: Path) -> torch.Tensor:
    """Every PNG in `folder`, sorted by name, as uint8 N×C×H×W (grey images give C = 1)."""
    from PIL import Image

    files = sorted(folder.glob("*.png"))
    lossy = sorted(f.name for f in folder.iterdir() if f.suffix.lower() in {".jpg", ".jpeg"})
    if lossy:
        raise GancliError(f"{folder} holds JPEG files ({lossy[0]}, ...): JPEG compression moves "
                          "FID by itself; write samples as PNG (gancli sample out=FOLDER)")
    if not files:
        raise GancliError(f"no .png files in {folder}")
    arrays = []
    for f in files:
        try:
            with Image.open(f) as img:
                grey = img.mode in {"1", "L", "LA", "I", "I;16"}
                arr = np.asarray(img.convert("L" if grey else "RGB"))
        except OSError as err:  # PIL's UnidentifiedImageError and truncated files
            raise GancliError(f"{f} is not a readable PNG ({str(err).splitlines()[0]}); "
                              "remove it or write the samples again") from None
        arrays.append(arr[..., None] if arr.ndim == 2 else arr)
    shapes = {a.shape for a in arrays}
    if len(shapes) > 1:
        raise GancliError(f"images in {folder} differ in size or channels ({sorted(shapes)[:3]}); "
                          "evaluate one resolution at a time")
    return torch.as_tensor(np.stack(arrays)).permute(0, 3, 1, 2).contiguous()


def run_eval(cfg: DictConfig, out_dir: Path, overrides: list[str],
             devices: JobDevices | None = None) -> tuple[dict, str]:
    """Score `cfg.ckpt`'s generator or the samples at `cfg.samples`; write `out_dir/eval.json`.
    Returns the results and the name of the primary metric. `devices` resolves `eval.device`
    (a sweep job's GPU claim); None: one of its own (outside a sweep: `resolve_device`)."""
    validate(cfg)
    if bool(cfg.ckpt) == bool(cfg.samples):
        raise GancliError("give exactly one of ckpt=PATH (a run folder or checkpoint) or "
                          "samples=PATH data=NAME (an .npz or a folder of PNGs)")
    device = (devices or JobDevices()).resolve(cfg.eval.device, "eval.device")
    threads = choose_threads(cfg.eval.threads, "eval.threads", device)
    opts = cfg.eval
    if cfg.ckpt:
        ckpt = load_checkpoint(cfg.ckpt)
        G, train_cfg, info, conditioning = load_generator(ckpt, opts.ema)
        check_data(cfg, train_cfg.data, overrides)
        data_cfg = train_cfg.data
        if any(o.startswith("data.root=") for o in overrides):  # the data moved since training
            data_cfg = OmegaConf.merge(data_cfg, {"root": cfg.data.root})
            conditioning.cfg = OmegaConf.merge(train_cfg, {"data": data_cfg})
        generated = generated_samples(G.to(device), train_cfg, info, opts.n, opts.seed, device,
                                      opts.batch_size, conditioning)
        condition = conditioning.evaluates
        source = {"checkpoint": str(Path(cfg.ckpt).expanduser().resolve()),
                  "step": ckpt["step"],
                  "generator": "ema" if opts.ema and ckpt.get("G_ema") is not None else "raw"}
    else:
        data_cfg = cfg.data
        info = load_dataset(data_cfg, "train").info
        samples = read_samples(cfg.samples)
        generated, condition = Generated(samples), "none"
        data_kind(info).check_file(samples, cfg.samples)
        source = {"samples": str(Path(cfg.samples).expanduser().resolve()), "checkpoint": None}
    evaluator = Evaluator(opts, data_cfg, info, device, condition)
    result = {**generated.score(evaluator, out_dir), **source, "primary": evaluator.primary,
              "device": str(device), **threads.record()}
    out = atomic_write(out_dir / "eval.json",
                       lambda f: f.write(json.dumps(result, indent=2).encode() + b"\n"))
    show(result, evaluator.primary)
    log.info("wrote %s", out)
    log.info("%s", threads)
    return result, evaluator.primary


def plain(value: object) -> object:
    """A config value as the YAML of a checkpoint holds it (an enum by its value)."""
    return getattr(value, "value", value)


def check_data(cfg: DictConfig, trained: DictConfig, overrides: list[str]) -> None:
    """A checkpoint is scored against the data it was trained on (`data.root=` says where that
    data is now). A `data=` or `data.KEY=` on the command line that names other data is refused
    rather than ignored: scoring against other data is `gancli eval samples=FILE data=...`."""
    for override in overrides:
        key = override.lstrip("+~").split("=", 1)[0]
        if key == "data.root" or not (key == "data" or key.startswith("data.")):
            continue
        path = "name" if key == "data" else key.removeprefix("data.")
        value = plain(OmegaConf.select(trained, path))
        if plain(OmegaConf.select(cfg.data, path)) == value:
            continue
        data = trained.name if path == "name" else f"{trained.name} with {path}={value}"
        raise GancliError(
            f"ckpt={cfg.ckpt} is scored against the data it was trained on ({data}), not "
            f"{override}: leave {key}= out (data.root= says where the data is now), or score "
            f"its samples against other data: gancli sample ckpt={cfg.ckpt} out=s.npz, then "
            f"gancli eval samples=s.npz {override}")


def show(result: dict, primary: str) -> None:
    """The results as a rich table on stderr, titled with what they were computed from: each
    score as the report's pages write it (`gancli.evaluation.display`), then the other values."""
    from rich.table import Table

    from gancli.log import console

    labels = [result["dataset"], f"n={result['n_samples']}"]
    if "features" in result:
        labels += [f"features={result['features']}", f"reference={result['reference']} "
                   f"(n={result['n_reference']})"]
    if "step" in result:
        labels.append(f"step {result['step']} ({result['generator']} generator)")
    table = Table(title="gancli eval: " + ", ".join(labels))
    table.add_column("metric")
    table.add_column("value", justify="right")
    for name, value, is_primary in display.score_rows(result, primary):
        table.add_row(f"[bold]{name}[/bold] (primary)" if is_primary else name, value)
    shown = ("n_samples", "dataset", "features", "reference", "n_reference", "checkpoint",
             "samples", "step", "generator", "primary", "threads", "threads_choice")
    for key, value in display.other_values(result, leave_out=shown):
        table.add_row(key, value)
    console().print(table)
