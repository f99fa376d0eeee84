"""Architectures by name: `model=<name>` picks a builder from `MODELS`.

A builder gets the model config, the dataset's `DataInfo` and the latent size and returns a
generator (z of shape N×latent_dim → one batch of data) and a discriminator (data → N raw scores,
no final activation: each loss applies its own). A new architecture is one module that registers
a builder plus one YAML in `conf/model/`.
"""

from __future__ import annotations

from collections.abc import Callable

from omegaconf import DictConfig
from torch import nn

from gancli.data import DataInfo
from gancli.errors import GancliError

Builder = Callable[[DictConfig, DataInfo, int], tuple[nn.Module, nn.Module]]
MODELS: dict[str, Builder] = {}


def register_model(name: str) -> Callable[[Builder], Builder]:
    """Decorator: make a builder available as `model=<name>`."""

    def add(fn: Builder) -> Builder:
        MODELS[name] = fn
        return fn

    return add


def build_models(cfg: DictConfig, info: DataInfo, latent_dim: int) -> tuple[nn.Module, nn.Module]:
    """The (generator, discriminator) pair for `cfg.name`, sized to the data."""
    if cfg.name not in MODELS:
        raise GancliError(f"unknown model '{cfg.name}'; choose one of: {', '.join(MODELS)}")
    return MODELS[cfg.name](cfg, info, latent_dim)


from gancli.models import dcgan, mlp, resnet  # noqa: E402,F401  (fill the registry)
