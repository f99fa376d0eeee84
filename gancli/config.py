"""Typed config schemas: the one place every default lives.

Each primary config (`conf/train.yaml`, `sample.yaml`, `eval.yaml`) puts its schema first in its
defaults list, so OmegaConf checks every merged YAML file and every command-line override against
these dataclasses *before any work starts*: a typo (`optim.lrr=1`) fails naming the key, a wrong
type or an unknown enum value fails naming the valid values. This module must not import torch:
it runs on the `--help` and config-error paths, which have to start in well under a second.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING, DictConfig, OmegaConf
from omegaconf.errors import ConfigKeyError

from gancli.errors import GancliError


class Device(str, Enum):
    """Where to train: `auto` picks CUDA when present."""

    auto = "auto"
    cpu = "cpu"
    cuda = "cuda"


class PrecisionName(str, Enum):
    """Arithmetic of the forward passes: fp32, or autocast to bf16 / fp16 (CUDA only)."""

    fp32 = "fp32"
    bf16 = "bf16"
    fp16 = "fp16"


class LatentDist(str, Enum):
    """The simple distribution the generator maps from."""

    normal = "normal"
    uniform = "uniform"


@dataclass
class DataConfig:
    """A dataset from the registry in `gancli.data` (one YAML in `conf/data/` per option)."""

    name: str = MISSING
    # Folder holding the dataset's original files (MNIST: the four IDX .gz files).
    root: str | None = None
    # Side length images are resized to; null keeps the native size. DCGAN needs a power of 2.
    resolution: int | None = None
    # Points drawn once for synthetic 2D mixtures.
    num_points: int = 100_000


@dataclass
class ModelConfig:
    """An architecture from the registry in `gancli.models`."""

    name: str = MISSING
    # Base channel width (DCGAN's ngf = ndf = 64) or hidden units (MLP).
    width: int = 64
    # Hidden layers (MLP only).
    depth: int = 3
    # Spectrally normalise every layer of D (Miyato et al. 2018); usable with every loss.
    spectral_norm: bool = False


@dataclass
class LossConfig:
    """A GAN objective from the registry in `gancli.losses`: it fixes the divergence minimised."""

    name: str = MISSING
    # Weight of the gradient penalty (wgan-gp, wgan-lp).
    gp_weight: float = 10.0
    # Weight-clipping bound c: D's weights are kept in [-c, c] (wgan-clip).
    clip: float = 0.01
    # f-divergence of loss=fgan: kl, reverse_kl, pearson, squared_hellinger, js, total_variation.
    divergence: str = "kl"
    # R1 penalty gamma/2 * E||grad D(x_real)||^2, usable with every loss; 0 = off.
    r1_gamma: float = 0.0
    # conditioning=image (pix2pix): G minimises adv_weight * adversarial loss + l1_weight * L1
    # to the target. adv_weight=0: supervised L1 only; l1_weight=0: GAN only.
    l1_weight: float = 100.0
    adv_weight: float = 1.0


@dataclass
class OptimConfig:
    """Adam for both players, with separate learning rates (TTUR when they differ)."""

    name: str = "adam"
    lr_g: float = 2e-4
    lr_d: float = 2e-4
    betas: list[float] = field(default_factory=lambda: [0.5, 0.999])


@dataclass
class LatentConfig:
    """The generator's input distribution."""

    dim: int = 100
    dist: LatentDist = LatentDist.normal


@dataclass
class AugmentConfig:
    """Augmentation of everything D sees: `none`, or `diffaug` (DiffAugment, Zhao et al. 2020)."""

    name: str = "none"
    # DiffAugment policies, applied in order: color, translation, cutout.
    policy: list[str] = field(default_factory=lambda: ["color", "translation", "cutout"])


@dataclass
class ConditioningConfig:
    """What the generator is conditioned on (`gancli.conditioning`): `none`, `class` labels,
    `text` captions, or an input `image` (pix2pix)."""

    name: str = "none"
    # Generator side: `cbn` (conditional batch norm; dcgan, resnet) or `concat` (embedding
    # appended to z; every model).
    g: str = "cbn"
    # Discriminator side: `concat`, `projection` (Miyato & Koyama 2018) or `acgan` (Odena et
    # al. 2017).
    d: str = "projection"
    # Size of the vector a label or caption is encoded to.
    embed_dim: int = 64
    # Weight of ACGAN's classification loss (conditioning.d=acgan).
    aux_weight: float = 1.0
    # Share of D's "fake" term given to real images paired with a wrong condition (GAN-INT-CLS,
    # Reed et al. 2016): D must judge the match as well as realism. 0 = off; text uses 0.5.
    mismatch: float = 0.0
    # conditioning=image: how inputs are derived from the data's images: inpaint, colorize,
    # superres or edges (data=paired_folder brings its own inputs).
    task: str = "inpaint"
    # conditioning=text: a file of pretrained weights for the text encoder (a state dict of
    # `gancli.models.text_encoder.TextEncoder` for this vocabulary); null: trained from scratch.
    text_encoder: str | None = None


@dataclass
class TrainConfig:
    """The training loop's knobs."""

    # Generator updates.
    steps: int = 3000
    batch_size: int = 64
    # Discriminator updates per generator update: 1 is the lecture's alternating one-each.
    n_critic: int = 1
    # PacGAN (Lin et al. 2018): D judges `pack` samples at once, concatenated; 1 = off.
    pack: int = 1
    seed: int = 0
    device: Device = Device.auto
    log_every: int = 100
    sample_every: int = 500
    ckpt_every: int = 500
    # Decay of an exponential moving average of G's weights; 0 turns it off.
    ema: float = 0.999
    # Samples in each picture written during training; null: 64 images, or 2,500 points (the
    # mode-counting protocol's count) for 2D data.
    sample_n: int | None = None
    # Run `eval.metrics` every this many steps (0 = never): results go to metrics.jsonl and the
    # best checkpoint by `eval.primary` to checkpoints/best.pt.
    eval_every: int = 0
    # The fast path, all off by default: autocast precision (bf16 also on CPUs; fp16 with a
    # gradient scaler, CUDA only), NHWC memory layout, torch.compile of G and D (falls back to
    # eager with a warning where unsupported).
    precision: PrecisionName = PrecisionName.fp32
    channels_last: bool = False
    compile: bool = False
    # Under torchrun with several GPUs: batch norm statistics over the global batch instead of
    # each rank's share (CUDA only).
    sync_batchnorm: bool = False


class Reference(str, Enum):
    """Which real split generated samples are compared with."""

    train = "train"
    test = "test"


class FeatureSpaceName(str, Enum):
    """Where FID, KID, IS, precision/recall and density/coverage are computed."""

    classifier = "classifier"
    inception = "inception"


@dataclass
class EvalOptions:
    """What to measure (`gancli eval`, and `gancli train` with `train.eval_every`)."""

    # Any of fid, kid, is, pr, dc, modes, confidence, memorization; empty: all that the data
    # and feature space allow (2D points: modes).
    metrics: list[str] = field(default_factory=list)
    # Generated samples scored.
    n: int = 10_000
    # The real split compared with.
    reference: Reference = Reference.test
    # `classifier` (trained by gancli on the dataset, offline) or `inception` (standard FID).
    features: FeatureSpaceName = FeatureSpaceName.classifier
    # The Inception weights file for features=inception (else torch-fidelity downloads them).
    inception_weights: str | None = None
    # The value sweeps optimise and best.pt is chosen by; null: fid for images, reverse_kl
    # for 2D points.
    primary: str | None = None
    # Score the EMA generator when the checkpoint has one.
    ema: bool = True
    seed: int = 0
    batch_size: int = 500
    device: Device = Device.auto


@dataclass
class TrainAppConfig:
    """`gancli train`."""

    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    latent: LatentConfig = field(default_factory=LatentConfig)
    conditioning: ConditioningConfig = field(default_factory=ConditioningConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    eval: EvalOptions = field(default_factory=EvalOptions)
    # A run folder or a checkpoint file to continue from.
    resume: str | None = None


@dataclass
class SampleOptions:
    """`gancli sample`'s switches."""

    # Use the EMA generator when the checkpoint has one.
    ema: bool = True
    # Write a grid of latent interpolations instead of independent samples.
    interpolate: bool = False
    # Interpolation steps per row (with interpolate=true).
    steps: int = 8
    batch_size: int = 256
    device: Device = Device.auto


@dataclass
class SampleAppConfig:
    """`gancli sample ckpt=PATH n=64 seed=0 out=PATH`."""

    ckpt: str = MISSING
    n: int = 64
    seed: int = 0
    # `.png` grid (or scatter for 2D data), `.npz` arrays, or a folder of PNGs. Default:
    # `samples.png` in this command's run folder.
    out: str | None = None
    # Class-conditional checkpoints: `label=K` draws n samples of class K, `labels=[a,b]` n of
    # each (a row per label); neither: one row per class.
    label: int | None = None
    labels: list[int] | None = None
    # Text-conditional checkpoints: n samples for this caption.
    prompt: str | None = None
    # Image-to-image checkpoints: an image or a folder of images to translate.
    input: str | None = None
    sample: SampleOptions = field(default_factory=SampleOptions)


@dataclass
class EvalAppConfig:
    """`gancli eval ckpt=PATH` or `gancli eval samples=PATH data=...`."""

    ckpt: str | None = None
    # A folder of PNGs or an `.npz` (`images` uint8 N×H×W×C, or `points` N×2), as written by
    # `gancli sample`.
    samples: str | None = None
    data: DataConfig = field(default_factory=DataConfig)
    eval: EvalOptions = field(default_factory=EvalOptions)


def register_configs() -> None:
    """Put the schemas in Hydra's ConfigStore under the names the primary configs list first."""
    cs = ConfigStore.instance()
    cs.store(name="train_schema", node=TrainAppConfig)
    cs.store(name="sample_schema", node=SampleAppConfig)
    cs.store(name="eval_schema", node=EvalAppConfig)


def check_schema(cfg: DictConfig, schema: type) -> None:
    """Refuse keys the schema does not know, also those added with Hydra's `+key=value`.

    Hydra's `+` lifts the typed config's guard to append a key, and its own error for a typo
    suggests exactly that; a misspelt key would then be silently ignored. Merging the composed
    config back onto the schema catches it before any work starts.
    """
    try:
        OmegaConf.merge(OmegaConf.structured(schema), OmegaConf.to_container(cfg))
    except ConfigKeyError as err:
        raise GancliError(f"{str(err).splitlines()[0]} (key {err.full_key}): not a setting of "
                          "this command; `--help` lists them all") from None
