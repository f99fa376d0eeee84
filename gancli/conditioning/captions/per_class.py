"""Per-class captions: the built-in templates of a labelled dataset (`templates.TEMPLATES`).

Every caption of a class matches every image of it, so a batch draws a random phrasing of each
image's class, D's mismatched pairs are images of another class, and evaluation checks the
class the caption names (with held-out phrasings as its `unseen` half).
"""

from __future__ import annotations

from typing import Any

import torch
from omegaconf import DictConfig

from gancli.conditioning.base import Request
from gancli.conditioning.captions.source import CaptionSource
from gancli.conditioning.captions.templates import CAPTIONED_DATASETS, TEMPLATES
from gancli.conditioning.captions.vocabulary import Vocabulary, tokenize
from gancli.conditioning.label import GRID_SEED, class_grid
from gancli.data import DataInfo, TensorData
from gancli.errors import GancliError


class CaptionBank(CaptionSource):
    """The built-in captions of a labelled dataset, as token tables on one device.

    `table` is num_classes × K × length: class c's distinct training captions in its first
    `counts[c]` rows, repeated to fill K (classes have different numbers of synonyms). `held`
    is the same for the held-out phrasings. Pass `vocab` and `length` to rebuild a trained
    model's bank (`from_state`); by default they come from the training captions.
    """

    kind = "labels"
    evaluates = "labels"
    datasets = CAPTIONED_DATASETS

    def __init__(
        self,
        dataset: str,
        num_classes: int,
        vocab: Vocabulary | None = None,
        length: int | None = None,
    ) -> None:
        if dataset not in TEMPLATES:
            raise GancliError(
                f"conditioning=text: no built-in captions for dataset '{dataset}' "
                f"in this gancli; they exist for {', '.join(CAPTIONED_DATASETS)}"
            )
        templates = TEMPLATES[dataset]
        if num_classes != templates.num_classes:
            raise GancliError(
                f"conditioning=text: dataset '{dataset}' has "
                f"{templates.num_classes} classes, not {num_classes}"
            )
        self.dataset, self.num_classes = dataset, num_classes
        self._train = [templates.captions(c) for c in range(num_classes)]
        self._held = [templates.captions(c, held_out=True) for c in range(num_classes)]
        every = [t for caps in self._train + self._held for t in caps]
        needed = max(len(tokenize(t)) for t in every)
        if vocab is None:
            vocab = Vocabulary.from_texts(t for caps in self._train for t in caps)
            length = needed
        elif (
            length is None
            or length < needed
            or any(w not in vocab for t in every for w in tokenize(t))
        ):
            raise GancliError(
                f"the checkpoint's caption vocabulary does not cover this gancli's "
                f"built-in captions for '{dataset}' (the templates changed since it "
                "was trained): retrain, or use the gancli version that trained it"
            )
        super().__init__(vocab, length)
        self.table, self.counts = self._pack(self._train)
        self.held, self.held_counts = self._pack(self._held)

    @classmethod
    def for_data(cls, info: DataInfo) -> CaptionBank:
        return cls(info.name, info.num_classes)

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> CaptionBank:
        return cls(
            state["dataset"],
            state["num_classes"],
            Vocabulary.from_list(state["words"]),
            state["length"],
        )

    def state(self) -> dict[str, Any]:
        return {**super().state(), "dataset": self.dataset, "num_classes": self.num_classes}

    def _pack(self, per_class: list[list[str]]) -> tuple[torch.Tensor, torch.Tensor]:
        k = max(len(caps) for caps in per_class)
        rows = {
            t: ids
            for caps in per_class
            for t, ids in zip(caps, self._rows(caps, "caption"), strict=True)
        }
        table = [[rows[caps[i % len(caps)]] for i in range(k)] for caps in per_class]
        return (
            torch.tensor(table, dtype=torch.long),
            torch.tensor([len(caps) for caps in per_class], dtype=torch.long),
        )

    def to(self, device: torch.device | str) -> CaptionBank:
        self.table, self.counts = self.table.to(device), self.counts.to(device)
        self.held, self.held_counts = self.held.to(device), self.held_counts.to(device)
        return self

    def _on(self, device: torch.device) -> None:
        if self.table.device != device:
            self.to(device)

    # -- the source interface ------------------------------------------------------------------

    def attach(self, data: TensorData, data_cfg: DictConfig) -> CaptionBank:
        """The templates need nothing from the data: this bank, on the data's device."""
        return self.to(data.device)

    def match_keys(self, data: TensorData) -> torch.Tensor:
        """The class: every caption of a class matches each of its images."""
        return data.y

    def tokens(
        self, labels: torch.Tensor, index: torch.Tensor, generator: torch.Generator | None
    ) -> torch.Tensor:
        return self.sample(labels, generator)

    def preview(self, n: int) -> Request:
        """Class conditioning's grid (a row per class), each sample a caption of its class
        drawn with a fixed seed."""
        y, nrow = class_grid(self.num_classes, n)
        return Request(self.sample(y, torch.Generator().manual_seed(GRID_SEED)), y, nrow)

    def eval_request(self, n: int, generator: torch.Generator) -> Request:
        """Every class equally often, alternately with a training phrasing and a held-out one
        (`unseen`), so evaluation shows whether the encoder generalises to new phrasings."""
        y = torch.arange(n) % self.num_classes
        unseen = torch.arange(n) % 2 == 1
        c = torch.where(unseen[:, None], self.held_out(y), self.sample(y, generator))
        return Request(c, y, unseen=unseen)

    def unprompted(self, n: int) -> Request:
        """The preview grid: a row per class."""
        return self.preview(n)

    # -- the captions themselves ---------------------------------------------------------------

    def sample(
        self, labels: torch.Tensor, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """N×length tokens: a training caption of each label drawn uniformly among its distinct
        captions, on labels.device (the tables move there; `generator` must be on it too)."""
        self._on(labels.device)
        u = torch.rand(labels.shape, generator=generator, device=labels.device)
        counts = self.counts[labels]
        k = torch.minimum((u * counts).long(), counts - 1)
        return self.table[labels, k]

    def held_out(self, labels: torch.Tensor) -> torch.Tensor:
        """N×length tokens: a held-out phrasing of each label, row i using the label's phrasing
        i mod (its number of them), so a batch of one label shows its phrasings in turn."""
        self._on(labels.device)
        k = torch.arange(len(labels), device=labels.device) % self.held_counts[labels]
        return self.held[labels, k]

    def captions(self, label: int) -> list[str]:
        """Every distinct training caption of class `label`."""
        return list(self._train[label])

    def held_out_captions(self, label: int) -> list[str]:
        """Every held-out caption of class `label`."""
        return list(self._held[label])

    def caption(self, label: int, k: int = 0) -> str:
        """The text of training caption k (mod their number) of class `label`."""
        caps = self._train[label]
        return caps[k % len(caps)]

    def held_out_text(self, label: int, k: int = 0) -> str:
        """The text of held-out caption k (mod their number) of class `label`, as `held_out`
        uses it for row k."""
        caps = self._held[label]
        return caps[k % len(caps)]
