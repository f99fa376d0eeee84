"""`conditioning=image`: image-to-image translation, pix2pix (Isola et al. 2017).

G maps an input image to an output image and minimises `conditioning.adv_weight` · (the chosen
GAN loss, D judging (input, output) pairs) + `conditioning.l1_weight` · |output - target|₁. L1
alone (adv_weight=0) regresses to the mean of the plausible outputs and is blurry; the GAN alone
(l1_weight=0) is sharp but free to drift from the input; together the L1 term pins the low
frequencies to the target and D the local texture.

Pairs come from `data=paired_folder` (input/ and target/ images), or are derived from any image
dataset by `conditioning.task` (`gancli.conditioning.tasks`: inpaint, colorize, superres,
edges), the dataset's images being the targets.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import torch
from omegaconf import DictConfig
from torch import nn

from gancli.conditioning import register_conditioning
from gancli.conditioning.base import Batch, Conditioning, Groups, Request
from gancli.conditioning.tasks import input_channels, luminance, make_inputs
from gancli.data import DataInfo, TensorData, load_dataset
from gancli.errors import GancliError
from gancli.files import pixels_to_unit
from gancli.losses.base import GANLoss

# Examples shown in the pictures written during training: one (input, output, target) row each.
PREVIEW_ROWS = 8


@register_conditioning("image")
class ImageConditioning(Conditioning):
    """Input images in (`Batch.c`), translated images out; targets are the real data."""

    evaluates = "pairs"
    interpolates = False
    sample_keys = {"input": "input=IMAGE_OR_FOLDER"}

    def __init__(self, groups: Groups, info: DataInfo, state: dict | None = None) -> None:
        super().__init__(groups, info, state)
        cond = info.cond_shape
        self.paired = cond is not None  # data=paired_folder brings its own inputs
        if cond is None:
            cond = (input_channels(self.opts.task, info.shape[0]), *info.shape[1:])
            self.info = replace(info, cond_shape=cond)
        self.input_channels = cond[0]
        self._test: TensorData | None = None

    def inputs_of(self, data: TensorData, idx: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """The input images of items `idx` of `data` (`x`: their targets): their own for paired
        data, else the task's, made per batch (the tasks are deterministic, so an item always
        gets the same input, and no input set is held beside the data)."""
        return (
            data.take_inputs(idx) if self.paired else make_inputs(self.opts.task, x, self.info.name)
        )

    def draw(self, data: TensorData, size: int, generator: torch.Generator) -> Batch:
        idx, x = data.draw(size, generator)
        return Batch(x, self.inputs_of(data, idx, x))

    def generator_loss(
        self, loss: GANLoss, critic: nn.Module, batch: Batch, fake: torch.Tensor
    ) -> torch.Tensor:
        total = self.opts.l1_weight * (fake - batch.x).abs().mean()
        if self.opts.adv_weight > 0:
            adversarial = loss.generator(critic, fake, real=batch.x)
            total = total + self.opts.adv_weight * adversarial
        return total

    # -- pictures -------------------------------------------------------------------------------

    def examples(self, n: int) -> Request:
        """The first `n` pairs of the test split: never trained on, so the pictures show how
        the translation generalises."""
        if self._test is None:  # loaded once: training evaluates on it every eval_every steps
            self._test = load_dataset(self.groups.data, "test")
        test = self._test
        idx = torch.arange(min(n, len(test)))
        x = test.take(idx)
        return Request(self.inputs_of(test, idx, x).cpu(), targets=x.cpu())

    def preview(self, n: int) -> Request:
        return self.examples(min(n, PREVIEW_ROWS))

    def eval_request(self, n: int, generator: torch.Generator) -> Request:
        """The first `n` test pairs (all of them when the split is smaller)."""
        return self.examples(n)

    def conditions(self, opts: DictConfig, n: int) -> Request:
        """`input=PATH` (an image or a folder of images): translate those; without it, `n`
        test-split examples shown beside their targets."""
        if opts.get("input") is None:
            return self.examples(n)
        return Request(self.read_inputs(Path(opts.input).expanduser()))

    def read_inputs(self, path: Path) -> torch.Tensor:
        """Images at `path` as this model's inputs: resized like the training data, converted to
        its input channels (grey = luminance)."""
        from gancli.data.folder import IMAGE_SUFFIXES, read_image

        if path.is_dir():
            files = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
            if not files:
                raise GancliError(f"input={path}: no images ({', '.join(IMAGE_SUFFIXES)}) in it")
        elif path.is_file():
            files = [path]
        else:
            raise GancliError(f"input={path} does not exist: give an image or a folder of images")
        size = self.info.shape[-1]
        x = pixels_to_unit(torch.stack([read_image(p, size) for p in files]))
        if self.input_channels == 1:  # RGB → luminance, as the tasks make grey inputs
            x = luminance(x, self.opts.task, self.info.name)
        return x

    def picture(self, x: torch.Tensor, req: Request, nrow: int | None) -> tuple[torch.Tensor, int]:
        """One row per example: input, output and (where known) target, side by side."""
        if req.c is None:
            raise RuntimeError("an image translation picture needs its input images")
        columns = [_as_channels(req.c, x.shape[1]), x]
        if req.targets is not None:
            columns.append(req.targets)
        return torch.stack(columns, dim=1).flatten(0, 1), len(columns)


def _as_channels(images: torch.Tensor, channels: int) -> torch.Tensor:
    """Grey inputs repeated to the outputs' channel count, so they fit in one grid."""
    return images.expand(-1, channels, -1, -1) if images.shape[1] != channels else images
