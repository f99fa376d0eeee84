"""Architectures by name: `model=<name>` picks a builder from `MODELS`.

A builder gets the model config, the dataset's `DataInfo` and the latent size and returns a
generator (z of shape N×latent_dim → one batch of data) and a discriminator (data → N raw scores,
no final activation: each loss applies its own). Every discriminator is split as
`forward(x) = score(features(x))`, with `features` giving one vector per sample: conditional
discriminators (projection, auxiliary classifier) attach to those features. A new architecture
is one module that registers a builder plus one YAML in `conf/model/`.
"""

from __future__ import annotations

from collections.abc import Callable

from omegaconf import DictConfig
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from gancli.config.schemas import DNorm
from gancli.data import DataInfo
from gancli.errors import GancliError
from gancli.registry import Registry

Builder = Callable[[DictConfig, DataInfo, int], tuple[nn.Module, nn.Module]]
MODELS: Registry[Builder] = Registry("model")
#: Decorator: make a builder available as `model=<name>`.
register_model = MODELS.register


#: What `model.d_norm` makes of each batch-norm layer of D, from its channel count (None: kept).
D_NORMS: dict[DNorm, Callable[[int], nn.Module] | None] = {
    DNorm.batch: None,
    DNorm.layer: lambda channels: nn.GroupNorm(1, channels),
    DNorm.none: lambda channels: nn.Identity(),
}


def build_models(cfg: DictConfig, info: DataInfo, latent_dim: int) -> tuple[nn.Module, nn.Module]:
    """The (generator, discriminator) pair for `cfg.name`, sized to the data, D's normalisation
    as `cfg.d_norm` says (batch in the saved configs of a gancli that had no such key)."""
    G, D = MODELS.lookup(cfg.name)(cfg, info, latent_dim)
    make = D_NORMS[DNorm(cfg.get("d_norm", DNorm.batch))]
    return G, D if make is None else replace_batch_norm(D, make)


def replace_batch_norm(module: nn.Module, make: Callable[[int], nn.Module]) -> nn.Module:
    """`module` with each BatchNorm1d/2d below it replaced, in place, by `make(channels)`.
    Done after building, as spectral norm is, so that every architecture's D gets it alike."""
    for name, child in module.named_children():
        if isinstance(child, (nn.BatchNorm1d, nn.BatchNorm2d)):
            setattr(module, name, make(child.num_features))
        else:
            replace_batch_norm(child, make)
    return module


def d_width(cfg: DictConfig) -> int:
    """D's base width: `model.d_width` where set, else G's `model.width`. One helper so that
    every architecture reads the option the same way (`get`: configs built without the schema,
    as in tests and older checkpoints, lack the key)."""
    width = cfg.get("d_width")
    return cfg.width if width is None else width


def square_images(info: DataInfo, model: str) -> tuple[int, int]:
    """(channels, side) of `info`'s images, for the convolutional architectures, which need
    square images (2D points are refused before, by `gancli.config.rules`); non-square images
    fail in one line naming the fix."""
    channels, height, width = info.shape
    if height != width:
        raise GancliError(f"model={model} needs square images, got {height}×{width}")
    return channels, height


def log2_side(resolution: int, model: str) -> int:
    """log2 of an image side that is a power of 2 and at least 8: every image architecture here
    halves or doubles the side stage by stage. Anything else fails in one line."""
    levels = resolution.bit_length() - 1
    if resolution < 8 or resolution != 1 << levels:
        raise GancliError(
            f"model={model} needs a square image side that is a power of 2 and at "
            f"least 8, got {resolution}: set data.resolution (e.g. 32)"
        )
    return levels


def apply_spectral_norm(module: nn.Module) -> nn.Module:
    """Spectrally normalise every conv and linear layer of `module` in place (Miyato et al.
    2018): each weight is divided by its largest singular value, estimated by one power
    iteration per training forward, so each layer is 1-Lipschitz and, with 1-Lipschitz
    activations, so is the whole network. Applied after building so that it works for every
    architecture; it renames the weights in `state_dict` (`parametrizations.weight.original`),
    so a checkpoint loads into a model built the same way."""
    layers = (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)
    for layer in [m for m in module.modules() if isinstance(m, layers)]:
        spectral_norm(layer)
    return module


from gancli.models import dcgan, mlp, pix2pix, r3gan, resnet  # noqa: E402,F401  (fill the registry)
