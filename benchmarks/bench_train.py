"""Training throughput of gancli's loop against a plain textbook loop, in one process.

Absolute images/s depend on the machine, its load and torch's build, so the figure to quote is
the *ratio* gancli/textbook: both loops run in the same process on the same data with the same
architecture, and they alternate in rounds so that a change of machine load (other jobs,
frequency scaling) hits both. The textbook loops are fp32 and eager, and hold the whole set as
one float tensor on the device (as gancli did before it had prepared data); gancli gathers
uint8 batches from the memory-mapped prepared files (`data.placement=device`) or streams them
from the file (`data.placement=stream`, its own row).

gancli's default step is what `train.precision=auto` and `train.channels_last=auto` choose on
the machine (bf16 autocast on a CPU with AMX or AVX512-BF16 or a GPU that computes bf16, fp32
elsewhere; the memory layout that measured faster): the default row's label says what they
chose, and the row "fp32 eager" (`train.precision=fp32 train.channels_last=false`) shows how
much of the gain is gancli's loop and how much the arithmetic.

For `model=dcgan` the textbook loop is the pytorch/examples DCGAN recipe written out below;
`--losses` picks the objectives (`TEXTBOOK_LOSSES`): `ns` (that recipe), `wgan-gp` (Gulrajani
et al.'s step on the same DCGAN, its critic with layer norm as gancli's loss recipe has it) and
`r1` (the DCGAN step plus the R1 penalty on real images at every D update). For `model=resnet`
it is the plain SNGAN step (hinge loss, spectrally normalised D, Adam betas (0, 0.9)) of the
common PyTorch SNGAN re-implementations, on gancli's own ResNet modules (the architecture is
the same by construction; the step is what is compared), whatever `--losses` says.
`Trainer.train_step` is what `gancli train` runs each step (without the logging, sampling and
checkpointing around it). MNIST is read where gancli finds it (`$GANCLI_DATA/mnist`) or from
the repository's `../shared/data/mnist`; without it, the bundled digits stand in.

    .venv/bin/python benchmarks/bench_train.py [--models dcgan,resnet] [--batches 64,256]
                                  [--losses ns,wgan-gp,r1] [--steps N] [--rounds R]
                                  [--warmup N] [--device cpu|cuda] [--fast] [--markdown-out FILE]

gancli's default step against the textbook loop at 32×32, batch 64, for the three objectives:
`--models dcgan --batches 64 --losses ns,wgan-gp,r1 --rounds 5`.

This prints figures; it asserts nothing about them.
"""

from __future__ import annotations

import argparse
import datetime
import functools
import math
import platform
import resource
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from hydra import compose, initialize_config_module
from machine import emit_table, load_average, machine
from omegaconf import DictConfig
from torch import nn

import gancli.training.loop as loop
from gancli.config import register_configs
from gancli.data import TensorData, load_dataset

REPO = Path(__file__).resolve().parents[1]
SHARED_MNIST = REPO.parent / "shared" / "data" / "mnist"
RESOLUTION = 32
LATENT_DIM = 100
SEED = 0
# Untimed steps per loop before the first round: the first steps allocate buffers and pick
# convolution algorithms, which is start-up cost, not throughput.
WARMUP_STEPS = 3
# On a GPU a step takes milliseconds and is launched asynchronously: a few steps time the launch
# queue and cuDNN's autotuning, not throughput, so the defaults there are longer (a few seconds a
# window). Explicit --steps/--warmup still win, for a quick check.
CUDA_WARMUP_STEPS = 20
CUDA_MIN_STEPS = 200
#: The textbook's penalty weights: R1's γ (gancli's rows: loss.r1_gamma) and WGAN-GP's λ (the
#: paper's 10, gancli's loss.gp_weight default).
R1_GAMMA = 10.0
GP_LAMBDA = 10.0
TABLE_HEADER = (
    "| date | machine | torch | threads | config | gancli img/s | textbook img/s "
    "| ratio gancli/textbook (min–max) | peak MiB |\n"
    "|---|---|---|---:|---|---:|---:|---|---:|"
)


# -- the textbook loop (pytorch/examples dcgan/main.py, at 32×32 and with logits) ------------------


def weights_init(m: nn.Module) -> None:
    if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
        nn.init.normal_(m.weight, 0.0, 0.02)
    elif isinstance(m, nn.BatchNorm2d):
        nn.init.normal_(m.weight, 1.0, 0.02)
        nn.init.zeros_(m.bias)


def textbook_models(
    nc: int, ngf: int = 64, ndf: int = 64, d_norm: Callable[[int], nn.Module] = nn.BatchNorm2d
) -> tuple[nn.Module, nn.Module]:
    """G: 1→4→8→16→32 pixels, widths 4·ngf, 2·ngf, ngf; D mirrors it, no final sigmoid, its
    normalisation layers `d_norm(channels)` (WGAN-GP: layer norm, as gancli's recipe has it)."""
    netG = nn.Sequential(
        nn.ConvTranspose2d(LATENT_DIM, ngf * 4, 4, 1, 0, bias=False),
        nn.BatchNorm2d(ngf * 4),
        nn.ReLU(True),
        nn.ConvTranspose2d(ngf * 4, ngf * 2, 4, 2, 1, bias=False),
        nn.BatchNorm2d(ngf * 2),
        nn.ReLU(True),
        nn.ConvTranspose2d(ngf * 2, ngf, 4, 2, 1, bias=False),
        nn.BatchNorm2d(ngf),
        nn.ReLU(True),
        nn.ConvTranspose2d(ngf, nc, 4, 2, 1, bias=False),
        nn.Tanh(),
    )
    netD = nn.Sequential(
        nn.Conv2d(nc, ndf, 4, 2, 1, bias=False),
        nn.LeakyReLU(0.2, inplace=True),
        nn.Conv2d(ndf, ndf * 2, 4, 2, 1, bias=False),
        d_norm(ndf * 2),
        nn.LeakyReLU(0.2, inplace=True),
        nn.Conv2d(ndf * 2, ndf * 4, 4, 2, 1, bias=False),
        d_norm(ndf * 4),
        nn.LeakyReLU(0.2, inplace=True),
        nn.Conv2d(ndf * 4, 1, 4, 1, 0, bias=False),
        nn.Flatten(0),
    )
    netG.apply(weights_init)
    netD.apply(weights_init)
    return netG, netD


def textbook_loop(
    x: torch.Tensor, batch: int, r1_gamma: float = 0.0, seed: int = SEED
) -> tuple[Callable[[], None], int]:
    """One-iteration closure of the textbook loop over the images `x`, and its parameter count.

    Real batches are random rows of the in-memory tensor, as gancli draws them, so the data path
    costs the same on both sides. `r1_gamma` > 0 adds the R1 penalty γ/2·E[||∇ₓD(x)||²] on the
    real batch at every D update, written as Mescheder et al.'s code does: the input gradient of
    the D(real) that the loss already computed, differentiated again in the same backward.
    """
    device = x.device
    torch.manual_seed(seed)
    netG, netD = (m.to(device) for m in textbook_models(x.shape[1]))
    criterion = nn.BCEWithLogitsLoss()
    optD = torch.optim.Adam(netD.parameters(), lr=2e-4, betas=(0.5, 0.999))
    optG = torch.optim.Adam(netG.parameters(), lr=2e-4, betas=(0.5, 0.999))
    rng = torch.Generator(device).manual_seed(seed)

    def step() -> None:
        real = x[torch.randint(len(x), (batch,), generator=rng, device=device)]
        real.requires_grad_(r1_gamma > 0)
        label = torch.full((batch,), 1.0, device=device)
        # (1) update D: maximise log D(x) + log(1 - D(G(z)))
        netD.zero_grad()
        out = netD(real)
        errD_real = criterion(out, label)
        if r1_gamma > 0:
            (grad,) = torch.autograd.grad(out.sum(), real, create_graph=True)
            errD_real = errD_real + r1_gamma / 2 * grad.pow(2).flatten(1).sum(1).mean()
        errD_real.backward()
        fake = netG(torch.randn(batch, LATENT_DIM, 1, 1, device=device))
        label.fill_(0.0)
        errD_fake = criterion(netD(fake.detach()), label)
        errD_fake.backward()
        optD.step()
        # (2) update G: maximise log D(G(z)), on the same fake batch. As in pytorch/examples, D
        # is not frozen, so this backward also computes D's weight gradients (discarded by the
        # next netD.zero_grad()); gancli's step freezes D here.
        netG.zero_grad()
        label.fill_(1.0)
        errG = criterion(netD(fake), label)
        errG.backward()
        optG.step()

    return step, n_params(netG) + n_params(netD)


def textbook_wgan_gp_loop(
    x: torch.Tensor, batch: int, cfg: DictConfig, seed: int = SEED
) -> tuple[Callable[[], None], int]:
    """One-iteration closure of Gulrajani et al.'s improved WGAN training (Algorithm 1) on the
    DCGAN players with a layer-normalised critic, as the common PyTorch re-implementations write
    it: `cfg.train.n_critic` critic updates (the recipe's 5), each on a fresh real batch and a
    fresh fake one made without a graph, with the gradient penalty λ·E[(||∇D(x̂)|| - 1)²] on
    random interpolates x̂ through torch.autograd.grad(create_graph=True); then one G update,
    -D(G(z)) on a fresh forward pass of G, with D's weights frozen. Adam 1e-4, betas (0, 0.9).

    One call is one G update, as one gancli step is; both sides count `batch` images a step
    (not n_critic·batch real images), so the ratio compares G updates per second."""
    device = x.device
    torch.manual_seed(seed)
    netG, netD = (
        m.to(device)
        for m in textbook_models(x.shape[1], d_norm=lambda channels: nn.GroupNorm(1, channels))
    )
    optD = torch.optim.Adam(netD.parameters(), lr=1e-4, betas=(0.0, 0.9))
    optG = torch.optim.Adam(netG.parameters(), lr=1e-4, betas=(0.0, 0.9))
    rng = torch.Generator(device).manual_seed(seed)
    n_critic = cfg.train.n_critic

    def noise() -> torch.Tensor:
        return torch.randn(batch, LATENT_DIM, 1, 1, device=device)

    def step() -> None:
        for _ in range(n_critic):
            real = x[torch.randint(len(x), (batch,), generator=rng, device=device)]
            with torch.no_grad():
                fake = netG(noise())
            alpha = torch.rand(batch, 1, 1, 1, device=device)
            interpolates = (alpha * real + (1 - alpha) * fake).requires_grad_(True)
            (grad,) = torch.autograd.grad(netD(interpolates).sum(), interpolates, create_graph=True)
            penalty = GP_LAMBDA * ((grad.flatten(1).norm(2, dim=1) - 1) ** 2).mean()
            loss_d = netD(fake).mean() - netD(real).mean() + penalty
            optD.zero_grad()
            loss_d.backward()
            optD.step()
        netD.requires_grad_(False)
        loss_g = -netD(netG(noise())).mean()
        optG.zero_grad()
        loss_g.backward()
        optG.step()
        netD.requires_grad_(True)

    return step, n_params(netG) + n_params(netD)


def textbook_sngan_loop(
    x: torch.Tensor, batch: int, cfg: DictConfig, seed: int = SEED
) -> tuple[Callable[[], None], int]:
    """One-iteration closure of the plain SNGAN step (n_dis = 1) on `cfg`'s ResNet players:
    D's hinge loss on a real batch and a detached fake batch, then G's loss -D(G(z)) on a fresh
    forward pass of G, as the common re-implementations write it."""
    from gancli.models import apply_spectral_norm, build_models

    device = x.device
    torch.manual_seed(seed)
    info = loop.load_dataset(cfg.data, "train").info
    netG, netD = build_models(cfg.model, info, cfg.latent.dim)
    netG, netD = netG.to(device), apply_spectral_norm(netD).to(device)
    optD = torch.optim.Adam(netD.parameters(), lr=2e-4, betas=(0.0, 0.9))
    optG = torch.optim.Adam(netG.parameters(), lr=2e-4, betas=(0.0, 0.9))
    rng = torch.Generator(device).manual_seed(seed)
    dim = cfg.latent.dim

    def step() -> None:
        real = x[torch.randint(len(x), (batch,), generator=rng, device=device)]
        with torch.no_grad():
            fake = netG(torch.randn(batch, dim, device=device))
        loss_d = torch.relu(1 - netD(real)).mean() + torch.relu(1 + netD(fake)).mean()
        optD.zero_grad()
        loss_d.backward()
        optD.step()
        loss_g = -netD(netG(torch.randn(batch, dim, device=device))).mean()
        optG.zero_grad()
        loss_g.backward()
        optG.step()

    return step, n_params(netG) + n_params(netD)


#: A textbook loop's factory: (images, batch, gancli's composed config) → (step, parameters).
Textbook = Callable[[torch.Tensor, int, DictConfig], tuple[Callable[[], None], int]]


@dataclass(frozen=True)
class BenchLoss:
    """gancli's overrides for an objective (its loss recipe applies as in `gancli train`) and
    the textbook loop that trains the same players with it."""

    overrides: list[str]
    textbook: Textbook


#: `--losses`, for model=dcgan.
TEXTBOOK_LOSSES = {
    "ns": BenchLoss(["loss=ns"], lambda x, batch, cfg: textbook_loop(x, batch)),
    "wgan-gp": BenchLoss(["loss=wgan-gp"], textbook_wgan_gp_loop),
    # gancli's R1 is on every D update unless loss.r1_every asks for lazy R1, as the textbook's.
    "r1": BenchLoss(
        ["loss=ns", f"loss.r1_gamma={R1_GAMMA:g}"],
        lambda x, batch, cfg: textbook_loop(x, batch, r1_gamma=R1_GAMMA),
    ),
}


@dataclass(frozen=True)
class BenchModel:
    """gancli's overrides for a model, the objectives it is compared with (`--losses` picks
    among them; a model with a single one of its own always runs that), and how many images a
    timed run covers without --steps: a batch-256 row then takes no longer than a batch-64 one
    (dcgan: 20 steps at 64, 5 at 256), and the SNGAN ResNet, about 40 times the DCGAN's work
    per image, still fits in minutes on a CPU."""

    overrides: list[str]
    losses: dict[str, BenchLoss]
    images_per_run: int

    def chosen_losses(self, requested: list[str]) -> list[str]:
        """Those of `requested` this model has a textbook loop for, else its own single one."""
        return [name for name in requested if name in self.losses] or (
            list(self.losses) if len(self.losses) == 1 else []
        )


MODELS = {
    "dcgan": BenchModel(["model=dcgan", "model.width=64"], TEXTBOOK_LOSSES, 1280),
    "resnet": BenchModel(
        [
            "model=resnet",
            "model.spectral_norm=true",
            "latent.dim=128",
            "optim.lr_g=2e-4",
            "optim.lr_d=2e-4",
            "optim.betas=[0.0,0.9]",
        ],
        {"hinge": BenchLoss(["loss=hinge"], textbook_sngan_loop)},
        128,
    ),
}


# -- gancli's side ---------------------------------------------------------------------------------


def n_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def mnist_roots() -> list[Path]:
    """Where MNIST is looked for: where gancli itself finds it (data=mnist's data.root,
    `$GANCLI_DATA/mnist`, else `data/mnist` under the working directory), then the repository's
    `../shared/data/mnist`."""
    return [Path(compose_train(["data=mnist"]).data.root).resolve(), SHARED_MNIST]


def data_overrides() -> tuple[list[str], str]:
    """Real MNIST at 32×32 when its files are found, else the bundled digits upsampled to
    32×32 (same model and tensor sizes, far fewer distinct images); and a note saying which."""
    for root in mnist_roots():
        if (root / "train-images-idx3-ubyte.gz").is_file():
            return ["data=mnist", f"data.root={root}", f"data.resolution={RESOLUTION}"], "mnist"
    return ["data=digits", f"data.resolution={RESOLUTION}"], "digits (MNIST not found)"


def default_steps(model: str, batch: int, device: torch.device) -> int:
    """Timed steps per window without --steps: the model's images per run, and at least
    `CUDA_MIN_STEPS` on a GPU."""
    steps = max(1, math.ceil(MODELS[model].images_per_run / batch))
    return max(steps, CUDA_MIN_STEPS) if device.type == "cuda" else steps


def share_dataset(data: TensorData) -> None:
    """Make every Trainer built here use `data` instead of loading (and resizing) it again.

    Each row builds fresh Trainers; loading MNIST each time would cost seconds and, with two
    Trainers alive, put two copies of the dataset into the peak-RSS figure. Trainer.__init__ calls
    `load_dataset` through its module, so replacing that name is enough.
    """
    loop.load_dataset = lambda cfg, split="train": data


def compose_train(overrides: list[str]) -> DictConfig:
    with initialize_config_module(config_module="gancli.conf", version_base="1.3"):
        return compose(config_name="train", overrides=overrides)


@dataclass
class Contender:
    """A named training step to time; `batch` images of real data per call."""

    name: str
    step: Callable[[], object]
    batch: int
    peak_mib: float = 0.0  # on a GPU: the most memory its steps allocated


def time_run(c: Contender, steps: int, device: torch.device) -> float:
    """Images per second over `steps` consecutive steps (and, on a GPU, their peak memory)."""
    cuda = device.type == "cuda"
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats(device)
    start = time.perf_counter()
    for _ in range(steps):
        c.step()
    if cuda:
        torch.cuda.synchronize()
        c.peak_mib = max(c.peak_mib, torch.cuda.max_memory_allocated(device) / 2**20)
    return steps * c.batch / (time.perf_counter() - start)


def measure(
    contenders: list[Contender],
    steps: int,
    rounds: int,
    device: torch.device,
    warmup: int = WARMUP_STEPS,
) -> dict[str, list[float]]:
    """images/s of every contender in every round. The order rotates each round so that no loop
    always runs first (right after another loop's memory traffic) or last."""
    for c in contenders:
        for _ in range(warmup):
            c.step()
    rates: dict[str, list[float]] = {c.name: [] for c in contenders}
    for r in range(rounds):
        k = r % len(contenders)
        for c in contenders[k:] + contenders[:k]:
            rates[c.name].append(time_run(c, steps, device))
    return rates


# -- report ----------------------------------------------------------------------------------------


def device_machine(device: torch.device) -> str:
    return machine(torch.cuda.get_device_name(device) if device.type == "cuda" else None)


def reset_peak_rss() -> None:
    """Start a new peak-RSS window, so that each row reports its own peak rather than the
    largest row's so far (Linux: writing 5 to /proc/self/clear_refs resets VmHWM to the current
    RSS). Elsewhere the peak stays the process's."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass


def peak_rss_mib() -> float:
    """Peak resident memory since `reset_peak_rss` (Linux's VmHWM), else since the process
    started (getrusage; Linux reports KiB)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


#: Each gancli row's overrides, by label; "{auto}" in a label becomes what `train.precision=auto`
#: and `train.channels_last=auto` chose for that row's Trainer (`choices`).
VARIANTS = {
    "fp32 eager (train.precision=fp32 train.channels_last=false)": [
        "train.precision=fp32",
        "train.channels_last=false",
    ],
    "ema=0, {auto}": ["train.ema=0"],
    "default: {auto}, ema={ema}": [],
    "streamed (data.placement=stream), {auto}": ["data.placement=stream"],
}
#: `--fast`: the fast path's switches one by one, each pinning the other, with the default EMA.
FAST_VARIANTS = {
    "bf16 (train.precision=bf16 train.channels_last=false)": [
        "train.precision=bf16",
        "train.channels_last=false",
    ],
    "channels_last (train.precision=fp32 train.channels_last=true)": [
        "train.precision=fp32",
        "train.channels_last=true",
    ],
    "bf16 + channels_last (train.precision=bf16 train.channels_last=true)": [
        "train.precision=bf16",
        "train.channels_last=true",
    ],
}


def choices(trainer: loop.Trainer) -> str:
    """What the Trainer's precision and layout came to, e.g. "bf16 + channels_last (auto)"."""
    precision, layout = trainer.precision, trainer.layout
    auto = "auto" in (precision.how[:4], layout.how[:4])
    return (
        f"{precision.name} + {'channels_last' if layout.on else 'contiguous'}"
        f"{' (auto)' if auto else ''}"
    )


def bench_batch(
    model: str,
    loss: str,
    batch: int,
    steps: int,
    rounds: int,
    device: torch.device,
    base: list[str],
    data_note: str,
    fast: bool = False,
    warmup: int = WARMUP_STEPS,
) -> list[str]:
    """Time the textbook loop and gancli's variants (`VARIANTS`, and with `fast` the fast
    path's switches) for one model, objective and batch size; returns one markdown row per
    gancli variant."""
    bench_loss = MODELS[model].losses[loss]
    overrides = [
        *base,
        *MODELS[model].overrides,
        *bench_loss.overrides,
        f"train.batch_size={batch}",
        f"train.device={device.type}",
        f"train.seed={SEED}",
    ]
    default_ema = compose_train(overrides).train.ema
    reset_peak_rss()
    variants = {**VARIANTS, **(FAST_VARIANTS if fast else {})}
    contenders, params, labels, notes, trainers = [], set(), [], [], []
    with tempfile.TemporaryDirectory(prefix="gancli-bench-") as tmp:
        for i, (template, extra) in enumerate(variants.items()):
            trainer = loop.Trainer(
                compose_train([*overrides, *extra]), run_dir=Path(tmp) / f"run{i}"
            )
            trainers.append(trainer)
            label = template.format(auto=choices(trainer), ema=f"{default_ema:g}")
            labels.append(label)
            if not extra:
                notes.append(
                    f"  default: train.precision={trainer.precision.name} "
                    f"({trainer.precision.how}); {trainer.layout}"
                )
            contenders.append(
                Contender(
                    f"gancli {label}", functools.partial(trainer.train_step, measure=False), batch
                )
            )
            params.add(n_params(trainer.gan.G) + n_params(trainer.gan.D))
        # The textbook loop holds the whole set as floats on the device, as gancli did before it
        # read uint8 batches from the memory-mapped prepared files: the first variant's data,
        # placed on the device in the contiguous layout.
        data = trainers[0].data
        step, tb_params = bench_loss.textbook(data.spread(len(data)), batch, trainers[0].cfg)
        contenders.insert(0, Contender("textbook", step, batch))
        if params != {tb_params}:
            raise SystemExit(
                f"model sizes differ: gancli {params}, textbook {tb_params}: the "
                "comparison would not be like for like"
            )
        rates = measure(contenders, steps, rounds, device, warmup)

    tb = rates["textbook"]
    config = (
        f"{model} {RESOLUTION}×{RESOLUTION} {data_note}, {' '.join(bench_loss.overrides)}, "
        f"batch {batch}"
    )
    rows = []
    print(
        f"\n{model}, {' '.join(bench_loss.overrides)}, batch {batch}: {steps} steps × "
        f"{rounds} rounds, {tb_params:,} parameters (G+D); img/s per round:"
    )
    print("\n".join(notes))
    width = max(map(len, rates))
    for name, values in rates.items():
        print(f"  {name:<{width}}  {' '.join(f'{v:8.1f}' for v in values)}")
    peaks = {c.name: c.peak_mib for c in contenders}
    if device.type == "cuda":
        print("  peak GPU MiB: " + ", ".join(f"{k} {v:.0f}" for k, v in peaks.items()))
    for label in labels:
        g = rates[f"gancli {label}"]
        peak = peaks[f"gancli {label}"] if device.type == "cuda" else peak_rss_mib()
        ratios = [a / b for a, b in zip(g, tb, strict=True)]
        rows.append(
            f"| {datetime.date.today()} | {device_machine(device)} | {torch.__version__} "
            f"| {torch.get_num_threads()} | {config}, {label} | {statistics.median(g):.1f} "
            f"| {statistics.median(tb):.1f} | {statistics.median(ratios):.3f} "
            f"({min(ratios):.3f}–{max(ratios):.3f}) | {peak:.0f} |"
        )
    return rows


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--models",
        default="dcgan,resnet",
        help=f"comma-separated, of {', '.join(MODELS)} (default dcgan,resnet)",
    )
    p.add_argument("--batch", type=int, help="one batch size (same as --batches N)")
    p.add_argument(
        "--batches",
        default="64,256",
        help="comma-separated batch sizes, one set of rows each (default 64,256)",
    )
    p.add_argument(
        "--losses",
        default="ns",
        help=f"comma-separated objectives for model=dcgan, of "
        f"{', '.join(TEXTBOOK_LOSSES)}, one set of rows each (default ns); "
        "model=resnet always runs its SNGAN hinge comparison",
    )
    p.add_argument(
        "--steps",
        type=int,
        help="timed steps per loop per round (default: about 1280 images' worth "
        "for dcgan, e.g. 20 steps at batch 64, and 128 for resnet; at least "
        f"{CUDA_MIN_STEPS} on cuda)",
    )
    p.add_argument("--rounds", type=int, default=5, help="alternating rounds (default 5)")
    p.add_argument(
        "--warmup",
        type=int,
        help=f"untimed steps per loop first (default {WARMUP_STEPS}; {CUDA_WARMUP_STEPS} on cuda)",
    )
    p.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    p.add_argument("--markdown-out", type=Path, help="append the table rows to this file")
    p.add_argument(
        "--fast",
        action="store_true",
        help="also time the fast path's switches given explicitly: bf16 autocast, "
        "channels_last, both",
    )
    args = p.parse_args(argv)
    args.batches = [args.batch] if args.batch else [int(b) for b in args.batches.split(",")]
    args.models = args.models.split(",")
    unknown = set(args.models) - set(MODELS)
    if unknown:
        p.error(f"unknown model(s) {', '.join(sorted(unknown))}; choose from {', '.join(MODELS)}")
    args.losses = args.losses.split(",")
    unknown = set(args.losses) - set(TEXTBOOK_LOSSES)
    if unknown:
        p.error(
            f"unknown loss(es) {', '.join(sorted(unknown))}; choose from "
            f"{', '.join(TEXTBOOK_LOSSES)}"
        )
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda: no CUDA GPU is visible")
    register_configs()
    base, data_note = data_overrides()
    if data_note != "mnist":
        print(
            f"note: no MNIST files in {' or '.join(map(str, mnist_roots()))} (set "
            "GANCLI_DATA to the folder above mnist/); using data=digits data.resolution=32"
        )
    warmup = (
        args.warmup
        if args.warmup is not None
        else (CUDA_WARMUP_STEPS if device.type == "cuda" else WARMUP_STEPS)
    )
    share_dataset(load_dataset(compose_train(base).data, "train"))
    print(
        f"{device_machine(device)}; torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads; python {platform.python_version()}; "
        f"device {device}; {load_average()}"
    )

    rows = []
    for model in args.models:
        losses = MODELS[model].chosen_losses(args.losses)
        skipped = [name for name in args.losses if name not in losses]
        if skipped:
            print(
                f"note: model={model} is compared with its own textbook step "
                f"({', '.join(losses)}), not --losses {','.join(skipped)}"
            )
        for loss in losses:
            for batch in args.batches:
                steps = args.steps or default_steps(model, batch, device)
                rows += bench_batch(
                    model,
                    loss,
                    batch,
                    steps,
                    args.rounds,
                    device,
                    base,
                    data_note,
                    args.fast,
                    warmup,
                )

    print(
        f"\nat the end: {load_average()}"
        "\nimg/s: median over rounds; ratio: median of per-round ratios (min–max over rounds);"
        "\npeak MiB: on a GPU, the most memory allocated while that row's gancli steps ran; on"
        "\nthe CPU, the process's peak RSS during that row (the shared dataset, the textbook's"
        "\nfloat copy of it, all its loops).\n"
    )
    emit_table(TABLE_HEADER, rows, args.markdown_out)


if __name__ == "__main__":
    main()
