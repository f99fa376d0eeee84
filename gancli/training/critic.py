"""What D is shown: augmented (DiffAugment) and packed (PacGAN) batches.

The losses call this view wherever they would call D, so every loss, penalties included, works
with augmentation, packing and conditioning without knowing about them. The raw D stays the
module that is optimised and checkpointed.
"""

from __future__ import annotations

import torch
from torch import nn

from gancli.training.augment import Augment


class CriticView(nn.Module):
    """D applied to `augment(x)`, with each run of `pack` consecutive samples joined along the
    feature (channel) axis into one input, as PacGAN does (Lin et al. 2018).

    `condition` is the batch's condition (labels, captions, input images), set by the training
    loop for each batch: a conditional D sees D(x, condition). Real and generated batches share
    it (fakes are generated for the real batch's conditions), so a penalty at interpolates of
    the two is conditioned consistently.

    `call` is what is run for D's forward pass when it is not D itself: D inside
    DistributedDataParallel under torchrun. `D` stays the plain module, for the methods some
    conditioning modes call on it (ACGAN's classifier)."""

    def __init__(
        self,
        D: nn.Module,
        augment: Augment | None = None,
        pack: int = 1,
        call: nn.Module | None = None,
    ) -> None:
        super().__init__()
        self.D, self.augment, self.pack = D, augment, pack
        self._call = [call or D]  # a list: not registered as a second submodule
        self.condition: torch.Tensor | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.augment is not None:
            x = self.augment(x)
        if self.pack > 1:
            x = x.reshape(x.shape[0] // self.pack, self.pack * x.shape[1], *x.shape[2:])
        D = self._call[0]
        out = D(x) if self.condition is None else D(x, self.condition)
        return out.float()  # the losses' arithmetic in fp32, also under bf16/fp16 autocast
