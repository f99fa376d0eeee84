"""`conditioning=text`: generate an image from a caption (GAN-INT-CLS, Reed et al. 2016).

Captions come from built-in templates for the labelled datasets (a random phrasing each time an
image is drawn, so the encoder learns the class words, not one string per class) or from a
captions file beside a `data=folder` tree (`gancli.conditioning.captions`). Each player encodes
captions with its own `TextEncoder`, trained with it: nothing pretrained needs downloading
(`conditioning.text_encoder` loads pretrained weights where a user has them).

D is trained on three kinds of pairs: (real image, its caption) positive; (generated image,
caption) and (real image, a caption it does not match) negative, the last weighted by
`conditioning.mismatch` (0.5 as in the paper), so that D must judge the match as well as
realism. Everything else (how G and D take the encoded caption) is class conditioning's.
"""

from __future__ import annotations

import torch
from omegaconf import DictConfig
from torch import nn

from gancli.conditioning import register_conditioning
from gancli.conditioning.base import Groups, Request
from gancli.conditioning.captions import captions_from_state, new_source
from gancli.conditioning.captions.source import CaptionSource
from gancli.conditioning.captions.vocabulary import Vocabulary
from gancli.conditioning.label import ClassConditioning
from gancli.data import DataInfo, TensorData
from gancli.errors import GancliError
from gancli.models.text_encoder import TextEncoder


@register_conditioning("text")
class TextConditioning(ClassConditioning):
    """Caption tokens in; D sees mismatched real pairs as negatives. What the captions are
    (per class or per image) is the `CaptionSource`'s business: this mode only asks it."""

    sample_keys = {"prompt": 'prompt="a caption"'}

    def __init__(self, groups: Groups, info: DataInfo, state: dict | None = None) -> None:
        saved = (state or {}).get("captions")
        self.restored = bool(saved)
        # Before class conditioning's checks, which ask the source (`require_labels`). A trained
        # model keeps its vocabulary and token ids.
        self.captions: CaptionSource = captions_from_state(saved) if saved else new_source(info)
        super().__init__(groups, info, state)

    @property
    def evaluates(self) -> str:  # type: ignore[override]
        return self.captions.evaluates

    def require_labels(self) -> None:
        """Captions need no class labels of their own; the source refuses what it cannot give
        (ACGAN's classifier on folder captions)."""
        self.captions.check(self.opts)

    def attach(self, data: TensorData) -> None:
        self.captions = self.captions.attach(data, self.groups.data)
        super().attach(data)

    def match_keys(self, data: TensorData) -> torch.Tensor:
        return self.captions.match_keys(data)

    def encoder(self) -> nn.Module:
        enc = TextEncoder(len(self.vocab), self.opts.embed_dim)
        # A trained model's weights come from its checkpoint: the pretrained file is only the
        # starting point of a new run (and may no longer exist when the model is reloaded).
        if self.opts.text_encoder is not None and not self.restored:
            try:
                enc.load_state_dict(_pretrained(self.opts.text_encoder))
            except RuntimeError as err:  # shapes or names of another encoder
                raise GancliError(
                    f"conditioning.text_encoder={self.opts.text_encoder} does not "
                    f"fit this vocabulary ({len(self.vocab)} ids) and embed_dim="
                    f"{self.opts.embed_dim}: {str(err).splitlines()[0][:120]}"
                ) from None
        return enc

    @property
    def vocab(self) -> Vocabulary:
        return self.captions.vocab

    def condition(
        self, labels: torch.Tensor, index: torch.Tensor, generator: torch.Generator | None
    ) -> torch.Tensor:
        return self.captions.tokens(labels, index, generator)

    def preview(self, n: int) -> Request:
        return self.captions.preview(n)

    def eval_request(self, n: int, generator: torch.Generator) -> Request:
        return self.captions.eval_request(n, generator)

    def conditions(self, opts: DictConfig, n: int) -> Request:
        """`prompt="..."`: n samples for that caption; without it, what the source offers."""
        return self.captions.request(opts.get("prompt"), n)

    def state(self) -> dict:
        return {"captions": self.captions.state()}


def _pretrained(path: str) -> dict:
    """A text encoder state dict, loaded without executing code."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # missing, truncated, pickled code: all unusable
        raise GancliError(
            f"conditioning.text_encoder={path}: cannot load it as a TextEncoder "
            f"state dict ({str(err).splitlines()[0][:120]})"
        ) from None
