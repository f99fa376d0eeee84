"""The interface of a caption source: everything text conditioning asks of its captions.

Captions come per class (built-in templates of a labelled dataset: `per_class.CaptionBank`) or
per image (a folder's captions file: `per_image.FolderCaptions`). The two differ in what makes a
pair of images "mismatched", what a batch's captions are drawn from, which pictures and
evaluation they allow and when they can be built; `TextConditioning` asks the source each of
these instead of branching on the dataset.

Everything a checkpoint needs (`state()`) is plain strings and ints, so that it loads with
`torch.load(weights_only=True)`; its `kind` says which source `captions_from_state` rebuilds.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable
from typing import Any, ClassVar

import torch
from omegaconf import DictConfig

from gancli.conditioning.base import Request
from gancli.conditioning.captions.vocabulary import Vocabulary, tokenize
from gancli.data import DataInfo, TensorData
from gancli.errors import GancliError

#: Most rows of one prompt in a `gancli sample` grid.
PROMPT_ROW = 8


class CaptionSource(ABC):
    """Captions as token rows of one padded `length`, over one `vocab`."""

    #: The checkpoint state's "kind" (`captions_from_state` rebuilds the source it names).
    kind: ClassVar[str]
    #: What evaluation gets with each sample (see `Conditioning.evaluates`).
    evaluates: ClassVar[str]
    #: The `data=` names whose captions this source provides.
    datasets: ClassVar[tuple[str, ...]]

    def __init__(self, vocab: Vocabulary, length: int) -> None:
        self.vocab = vocab
        self.length = length

    @classmethod
    @abstractmethod
    def for_data(cls, info: DataInfo) -> CaptionSource:
        """The source of a new run on dataset `info` (before its data is attached)."""

    @classmethod
    @abstractmethod
    def from_state(cls, state: dict[str, Any]) -> CaptionSource:
        """The source a checkpoint's `state()` describes, with the trained model's token ids."""

    def check(self, opts: DictConfig) -> None:  # noqa: B027 (most sources refuse nothing)
        """Refuse `conditioning.*` options that need something these captions do not give."""

    @abstractmethod
    def attach(self, data: TensorData, data_cfg: DictConfig) -> CaptionSource:
        """The source to train on `data` (read with `data_cfg`) with, its tables on the data's
        device: this one, or one built from the data's own captions."""

    @abstractmethod
    def match_keys(self, data: TensorData) -> torch.Tensor:
        """Per item of `data`, a value equal exactly when two items' captions match (D's
        mismatched pairs are drawn among items whose keys differ)."""

    @abstractmethod
    def tokens(
        self, labels: torch.Tensor, index: torch.Tensor, generator: torch.Generator | None
    ) -> torch.Tensor:
        """N×length tokens: a caption of each of data items `index` (with class `labels`), on
        their device."""

    @abstractmethod
    def preview(self, n: int) -> Request:
        """The captions of the pictures written during training (`n` samples at most)."""

    @abstractmethod
    def eval_request(self, n: int, generator: torch.Generator) -> Request:
        """The captions of `n` samples for evaluation, and what evaluation checks them by."""

    @abstractmethod
    def unprompted(self, n: int) -> Request:
        """What `gancli sample` draws without `prompt=` (or a `GancliError` asking for one)."""

    def request(self, prompt: str | None, n: int) -> Request:
        """`gancli sample`'s conditions: n samples of `prompt`, or `unprompted` without one."""
        if prompt is None:
            return self.unprompted(n)
        return Request(self.encode(prompt).expand(n, -1).clone(), None, min(n, PROMPT_ROW))

    def encode(self, prompt: str) -> torch.Tensor:
        """A user's prompt as a 1×length LongTensor (on CPU). Unknown words, an empty prompt or
        more words than any training caption has are a `GancliError`."""
        n = len(tokenize(prompt))
        if n > self.length:
            raise GancliError(
                f"prompt {prompt!r} has {n} words but this model's captions have at "
                f"most {self.length}: shorten it"
            )
        return self.vocab.encode(prompt, self.length).unsqueeze(0)

    def decode(self, tokens: torch.Tensor) -> str:
        """The words of one row of token ids."""
        return self.vocab.decode(tokens)

    def _rows(self, texts: Iterable[str], what: str) -> list[list[int]]:
        return [self.vocab.ids(t, self.length, what) for t in texts]

    def state(self) -> dict[str, Any]:
        """Plain data (strings, ints, lists) for a checkpoint, loadable with weights_only."""
        return {"kind": self.kind, "words": self.vocab.to_list(), "length": self.length}

    @abstractmethod
    def to(self, device: torch.device | str) -> CaptionSource:
        """Move the token tables to `device` (in place, like a module), returning self."""
