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

from pathlib import Path

import torch
from omegaconf import DictConfig
from torch import nn

from gancli.conditioning import register_conditioning
from gancli.conditioning.base import Request
from gancli.conditioning.captions import (
    CaptionBank,
    FolderCaptions,
    Vocabulary,
    captions_from_state,
    read_captions,
)
from gancli.conditioning.label import ClassConditioning
from gancli.data import DataInfo, TensorData
from gancli.errors import GancliError
from gancli.models.text_encoder import TextEncoder


@register_conditioning("text")
class TextConditioning(ClassConditioning):
    """Caption tokens in; D sees mismatched real pairs as negatives."""

    @property
    def evaluates(self) -> str:  # type: ignore[override]
        """Folder captions carry no class to check the images against."""
        return "none" if self.per_image else "labels"

    def __init__(self, cfg: DictConfig, info: DataInfo, state: dict | None = None) -> None:
        self.per_image = info.name == "folder"
        super().__init__(cfg, info, state)
        saved = (state or {}).get("captions")
        self.restored = bool(saved)
        self.captions: CaptionBank | FolderCaptions | None
        if saved:  # a trained model: keep its vocabulary and token ids
            self.captions = captions_from_state(saved)
        elif self.per_image:  # read from the folder's captions file in `attach`
            self.captions = None
        else:
            self.captions = CaptionBank(info.name, info.num_classes)

    def require_labels(self) -> None:
        """Folder captions need no class labels, except for ACGAN's classifier."""
        if not self.per_image:
            super().require_labels()
        elif self.opts.d == "acgan":
            raise GancliError("conditioning.d=acgan classifies images by class, which folder "
                              "captions do not give: use conditioning.d=projection or concat")

    def attach(self, data: TensorData) -> None:
        if self.per_image:
            if data.files is None:
                raise GancliError("conditioning=text on folder data needs the images' file "
                                  "names, which this dataset does not keep")
            texts = read_captions(Path(self.cfg.data.root).expanduser(), data.files)
            saved = self.captions
            self.captions = (FolderCaptions(texts) if saved is None else
                             FolderCaptions(texts, saved.vocab, saved.length))
        self.captions.to(data.x.device)
        super().attach(data)

    def match_keys(self, data: TensorData) -> torch.Tensor:
        """Labelled data: the class (every caption of a class matches its images). Folder data:
        which distinct caption an image has."""
        if not self.per_image:
            return data.y
        _, ids = torch.unique(self.captions.table, dim=0, return_inverse=True)
        return ids.to(data.x.device)

    def encoder(self) -> nn.Module:
        enc = TextEncoder(len(self.vocab), self.opts.embed_dim)
        # A trained model's weights come from its checkpoint: the pretrained file is only the
        # starting point of a new run (and may no longer exist when the model is reloaded).
        if self.opts.text_encoder is not None and not self.restored:
            try:
                enc.load_state_dict(_pretrained(self.opts.text_encoder))
            except RuntimeError as err:  # shapes or names of another encoder
                raise GancliError(f"conditioning.text_encoder={self.opts.text_encoder} does not "
                                  f"fit this vocabulary ({len(self.vocab)} ids) and embed_dim="
                                  f"{self.opts.embed_dim}: {str(err).splitlines()[0][:120]}"
                                  ) from None
        return enc

    @property
    def vocab(self) -> Vocabulary:
        if self.captions is None:
            raise GancliError("folder captions are read when training starts; this model has "
                              "no vocabulary yet")
        return self.captions.vocab

    def condition(self, labels: torch.Tensor, index: torch.Tensor,
                  generator: torch.Generator | None) -> torch.Tensor:
        if self.per_image:
            return self.captions.sample(index)
        return self.captions.sample(labels, generator)

    def preview(self, n: int) -> Request:
        """Labelled data: one row per class, each sample a caption of it (class conditioning's
        grid, captions drawn with a fixed seed). Folder data: the first captions, a row each."""
        if not self.per_image:
            return super().preview(n)
        count = min(len(self.captions), 8)
        per_row = max(1, n // count)
        idx = torch.arange(count).repeat_interleave(per_row)
        return Request(self.captions.table.cpu()[idx], None, per_row)

    def eval_request(self, n: int, generator: torch.Generator) -> Request:
        """Labelled data: every class equally often, alternately with a training phrasing and a
        held-out one (`unseen`), so evaluation shows whether the encoder generalises to new
        phrasings. Folder data: the training captions in turn (test captions may hold words the
        model never learnt)."""
        if self.per_image:
            table = self.captions.table.cpu()
            return Request(table[torch.arange(n) % len(table)])
        y = torch.arange(n) % self.info.num_classes
        unseen = torch.arange(n) % 2 == 1
        c = torch.where(unseen[:, None], self.captions.held_out(y),
                        self.captions.sample(y, generator))
        return Request(c, y, unseen=unseen)

    def request(self, opts: DictConfig, n: int) -> Request:
        """`prompt="..."`: n samples for that caption; without it, the preview grid."""
        for key in ("label", "labels", "input"):
            if opts.get(key) is not None:
                raise GancliError(f"{key}= does not apply to a text-conditional checkpoint: "
                                  'use prompt="a caption"')
        if opts.get("prompt") is None:
            if self.per_image:
                raise GancliError('this model was trained on folder captions: give prompt="a '
                                  'caption" (words from its training captions)')
            return self.preview(n)
        tokens = self.captions.encode(opts.prompt)
        return Request(tokens.expand(n, -1).clone(), None, min(n, 8))

    def state(self) -> dict:
        return {"captions": self.captions.state()}


def _pretrained(path: str) -> dict:
    """A text encoder state dict, loaded without executing code."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # missing, truncated, pickled code: all unusable
        raise GancliError(f"conditioning.text_encoder={path}: cannot load it as a TextEncoder "
                          f"state dict ({str(err).splitlines()[0][:120]})") from None
