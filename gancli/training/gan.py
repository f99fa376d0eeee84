"""The two players, G's moving average and their optimizers, built from the config and saved
and restored as one unit."""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch
from omegaconf import DictConfig
from torch import nn

from gancli.conditioning import Conditioning
from gancli.models import apply_spectral_norm, build_models
from gancli.training.ema import EMA
from gancli.training.optimizers import build_optimizer


@dataclass
class GAN:
    G: nn.Module
    D: nn.Module
    G_ema: EMA | None
    opt_g: torch.optim.Optimizer
    opt_d: torch.optim.Optimizer

    @property
    def sampler(self) -> nn.Module:
        """The generator to draw pictures from: the EMA one when there is one."""
        return self.G_ema.module if self.G_ema is not None else self.G

    @property
    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        """The optimizers by their checkpoint keys (a precision's scalers are kept under them)."""
        return {"opt_g": self.opt_g, "opt_d": self.opt_d}

    def state_dict(self) -> dict:
        return {
            "G": self.G.state_dict(),
            "D": self.D.state_dict(),
            "G_ema": None if self.G_ema is None else self.G_ema.module.state_dict(),
            "ema_count": None if self.G_ema is None else self.G_ema.count,
            "opt_g": self.opt_g.state_dict(),
            "opt_d": self.opt_d.state_dict(),
        }

    def load_state_dict(self, state: dict) -> None:
        self.G.load_state_dict(state["G"])
        self.D.load_state_dict(state["D"])
        self.opt_g.load_state_dict(state["opt_g"])
        self.opt_d.load_state_dict(state["opt_d"])
        if self.G_ema is not None and state.get("G_ema") is not None:
            self.G_ema.module.load_state_dict(state["G_ema"])
            self.G_ema.count = int(state["ema_count"])


def build_gan(
    cfg: DictConfig, conditioning: Conditioning, device: torch.device, spectral_norm: bool
) -> GAN:
    """G, D, EMA and optimizers for a `TrainAppConfig`, on `device`; `conditioning` builds the
    players (G(z) and D(x), or G(z, c) and D(x, c)).

    D is spectrally normalised when `model.spectral_norm` asks for it or when `spectral_norm`
    says the loss needs it (`GANLoss.needs_spectral_norm`); both come from the saved config, so
    a resumed run rebuilds the same D.
    """
    G, D = conditioning.build()
    info = conditioning.info
    if cfg.train.pack > 1:  # PacGAN: D's input is `pack` samples joined along the channel axis
        packed = replace(info, shape=(info.shape[0] * cfg.train.pack, *info.shape[1:]))
        _, D = build_models(cfg.model, packed, cfg.latent.dim)
    if cfg.model.spectral_norm or spectral_norm:
        apply_spectral_norm(D)
    G, D = G.to(device), D.to(device)
    ema = EMA(G, cfg.train.ema) if cfg.train.ema > 0 else None
    return GAN(
        G,
        D,
        ema,
        build_optimizer(cfg.optim, G.parameters(), cfg.optim.lr_g),
        build_optimizer(cfg.optim, D.parameters(), cfg.optim.lr_d),
    )
