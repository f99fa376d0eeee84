"""Per-image captions: `data=folder` with a captions file naming each image (`files`).

A folder has no classes to name, so each image has its own caption: a batch takes its images'
captions, D's mismatched pairs are images with another caption, and evaluation has no class to
check (`evaluates = "none"`). The captions can only be read once the data's files are known, so
a new run's source is empty until `attach`; a checkpoint keeps the vocabulary, not the captions.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig

from gancli.conditioning.base import Request
from gancli.conditioning.captions.files import read_captions
from gancli.conditioning.captions.source import CaptionSource
from gancli.conditioning.captions.vocabulary import Vocabulary, tokenize
from gancli.data import DataInfo, TensorData
from gancli.errors import GancliError

#: Most captions a training picture shows, a row each.
PREVIEW_CAPTIONS = 8


class FolderCaptions(CaptionSource):
    """Per-image captions (index-aligned with the dataset), as a token table N × length. Pass
    `vocab` and `length` to encode with a trained model's ids (`from_state`)."""

    kind = "folder"
    evaluates = "none"
    datasets = ("folder",)

    def __init__(
        self, captions: list[str], vocab: Vocabulary | None = None, length: int | None = None
    ) -> None:
        if vocab is None:
            vocab = Vocabulary.from_texts(captions)
        if length is None:
            length = max((len(tokenize(t)) for t in captions), default=1)
        super().__init__(vocab, length)
        self._captions = list(captions)
        self.table = torch.tensor(self._rows(captions, "caption"), dtype=torch.long).view(
            len(captions), length
        )

    @classmethod
    def for_data(cls, info: DataInfo) -> FolderCaptions:
        """No captions yet: `attach` reads them from the folder's captions file."""
        return cls([])

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> FolderCaptions:
        """A trained model's vocabulary, without captions until `attach`."""
        return cls([], Vocabulary.from_list(state["words"]), state["length"])

    def __len__(self) -> int:
        return len(self._captions)

    def to(self, device: torch.device | str) -> FolderCaptions:
        self.table = self.table.to(device)
        return self

    def _loaded(self) -> torch.Tensor:
        if not self._captions:
            raise GancliError(
                "folder captions are read from the folder's captions file when "
                "training starts and a checkpoint keeps only their vocabulary: "
                "evaluate such a model during training (train.eval_every=N), or "
                'sample it with prompt="a caption"'
            )
        return self.table

    # -- the source interface ------------------------------------------------------------------

    def check(self, opts: DictConfig) -> None:
        if opts.d == "acgan":
            raise GancliError(
                "conditioning.d=acgan classifies images by class, which folder "
                "captions do not give: use conditioning.d=projection or concat"
            )

    def attach(self, data: TensorData, data_cfg: DictConfig) -> FolderCaptions:
        """The captions of `data`'s images from the captions file in `data_cfg.root`, encoded
        with this source's ids where it has a vocabulary (a trained model's), otherwise with a
        vocabulary of their own words."""
        if data.files is None:
            raise GancliError(
                "conditioning=text on folder data needs the images' file names, "
                "which this dataset does not keep"
            )
        texts = read_captions(data.root or Path(data_cfg.root).expanduser(), data.files)
        trained = (self.vocab, self.length) if self.vocab.words else (None, None)
        return FolderCaptions(texts, *trained).to(data.device)

    def match_keys(self, data: TensorData) -> torch.Tensor:
        """Which distinct caption an image has: images with the same caption match."""
        _, ids = torch.unique(self._loaded(), dim=0, return_inverse=True)
        return ids.to(data.device)

    def tokens(
        self, labels: torch.Tensor, index: torch.Tensor, generator: torch.Generator | None
    ) -> torch.Tensor:
        """The captions of images `index` (one per image: nothing to draw)."""
        return self.sample(index)

    def preview(self, n: int) -> Request:
        """The first captions, a row each."""
        count = min(len(self._loaded()), PREVIEW_CAPTIONS)
        per_row = max(1, n // count)
        idx = torch.arange(count).repeat_interleave(per_row)
        return Request(self.table.cpu()[idx], None, per_row)

    def eval_request(self, n: int, generator: torch.Generator) -> Request:
        """The training captions in turn (test captions may hold words the model never
        learnt); no class to check them by."""
        table = self._loaded().cpu()
        return Request(table[torch.arange(n) % len(table)])

    def unprompted(self, n: int) -> Request:
        raise GancliError(
            'this model was trained on folder captions: give prompt="a caption" '
            "(words from its training captions)"
        )

    # -- the captions themselves ---------------------------------------------------------------

    def sample(self, indices: torch.Tensor) -> torch.Tensor:
        """N×length tokens: the captions of images `indices`, on indices.device."""
        table = self._loaded()
        if table.device != indices.device:
            self.to(indices.device)
        return self.table[indices]

    def caption(self, index: int) -> str:
        """The caption of image `index`."""
        return self._captions[index]
