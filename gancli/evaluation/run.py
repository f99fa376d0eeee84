"""`gancli eval`'s body: get samples (from a checkpoint's generator, `gancli.sampling.
generate_scored`, or a file or folder, `gancli.files.read_samples`), score them with an
`Evaluator`, write `eval.json` in the command's run folder and show a table.

What can be checked without work is checked first: a samples file's shape against the data, a
checkpoint's data against a `data=` on the command line, `eval.primary` against `eval.metrics`,
before a generator runs or a classifier trains."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from gancli.checkpoint import load_checkpoint
from gancli.config import validate
from gancli.data import load_dataset
from gancli.data.kinds import data_kind
from gancli.errors import GancliError
from gancli.evaluation import display
from gancli.evaluation.evaluate import Evaluator
from gancli.files import atomic_write, read_samples
from gancli.launch.jobs import JobDevices
from gancli.sampling import Generated, ScoreDraw, generate_scored, load_generator
from gancli.threads import choose_threads

log = logging.getLogger("gancli.eval")


def run_eval(
    cfg: DictConfig, out_dir: Path, overrides: list[str], devices: JobDevices | None = None
) -> tuple[dict, str]:
    """Score `cfg.ckpt`'s generator or the samples at `cfg.samples`; write `out_dir/eval.json`.
    Returns the results and the name of the primary metric. `devices` resolves `eval.device`
    (a sweep job's GPU claim); None: one of its own (outside a sweep: `resolve_device`)."""
    validate(cfg)
    if bool(cfg.ckpt) == bool(cfg.samples):
        raise GancliError(
            "give exactly one of ckpt=PATH (a run folder or checkpoint) or "
            "samples=PATH data=NAME (an .npz or a folder of PNGs)"
        )
    device = (devices or JobDevices()).resolve(cfg.eval.device, "eval.device")
    threads = choose_threads(cfg.eval.threads, "eval.threads", device)
    opts = cfg.eval
    if cfg.ckpt:
        ckpt = load_checkpoint(cfg.ckpt)
        data_cfg = OmegaConf.create(ckpt["config"]).data
        check_data(cfg, data_cfg, overrides)
        if any(o.startswith("data.root=") for o in overrides):  # the data moved since training
            data_cfg = OmegaConf.merge(data_cfg, {"root": cfg.data.root})
        G, train_cfg, info, conditioning = load_generator(ckpt, opts.ema, data_cfg)
        generated = generate_scored(
            G.to(device),
            conditioning,
            ScoreDraw(opts.n, opts.seed, train_cfg.latent, device, opts.batch_size),
        )
        condition = conditioning.evaluates
        source = {
            "checkpoint": str(Path(cfg.ckpt).expanduser().resolve()),
            "step": ckpt["step"],
            "generator": "ema" if opts.ema and ckpt.get("G_ema") is not None else "raw",
        }
    else:
        data_cfg = cfg.data
        info = load_dataset(data_cfg, "train").info
        samples = read_samples(cfg.samples)
        generated, condition = Generated(samples), "none"
        data_kind(info).check_file(samples, cfg.samples)
        source = {"samples": str(Path(cfg.samples).expanduser().resolve()), "checkpoint": None}
    evaluator = Evaluator(opts, data_cfg, info, device, condition)
    result = {
        **generated.score(evaluator, out_dir),
        **source,
        "primary": evaluator.primary,
        "device": str(device),
        **threads.record(),
    }
    out = atomic_write(
        out_dir / "eval.json", lambda f: f.write(json.dumps(result, indent=2).encode() + b"\n")
    )
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
            f"gancli eval samples=s.npz {override}"
        )


def show(result: dict, primary: str) -> None:
    """The results as a rich table on stderr, titled with what they were computed from: each
    score as the report's pages write it (`gancli.evaluation.display`), then the other values."""
    from rich.table import Table

    from gancli.log import console

    labels = [result["dataset"], f"n={result['n_samples']}"]
    if "features" in result:
        labels += [
            f"features={result['features']}",
            f"reference={result['reference']} (n={result['n_reference']})",
        ]
    if "step" in result:
        labels.append(f"step {result['step']} ({result['generator']} generator)")
    table = Table(title="gancli eval: " + ", ".join(labels))
    table.add_column("metric")
    table.add_column("value", justify="right")
    for name, value, is_primary in display.score_rows(result, primary):
        table.add_row(f"[bold]{name}[/bold] (primary)" if is_primary else name, value)
    shown = (
        "n_samples",
        "dataset",
        "features",
        "reference",
        "n_reference",
        "checkpoint",
        "samples",
        "step",
        "generator",
        "primary",
        "threads",
        "threads_choice",
    )
    for key, value in display.other_values(result, leave_out=shown):
        table.add_row(key, value)
    console().print(table)
