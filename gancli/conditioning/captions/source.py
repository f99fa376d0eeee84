"""Captions for text conditioning (`conditioning=text`, GAN-INT-CLS, Reed et al. 2016).

Reed et al. condition on a pretrained sentence encoder; gancli runs where nothing can be
downloaded, so the text encoder (`gancli.models.text_encoder`) is small and trained jointly with
the GAN from these captions. For the labelled datasets the captions are built in: every class has
a few names (synonyms, "sneaker" / "trainer") put into templates with varied phrasing ("a photo of
a {name}", "{name}", ...). One fixed string per class would let the encoder memorise the string as
a class id; varying the words around the class word makes it learn that the class word (and, for
Stacked MNIST, which colour each digit is bound to) is what matters.

The templates are split in two. TRAIN phrasings are the only ones the model sees while training.
HELD_OUT phrasings are new orders and combinations of the same training words ("a picture of a
handwritten seven", "blue four green one red seven"): they can be encoded (they use no unknown
word) yet were never seen, so how well images generated from them match their class measures
whether the encoder generalises beyond the strings it was trained on.

`data=folder` has no classes to name: its captions come per image from a file in the folder (see
`read_captions`), and `FolderCaptions` offers the same interface as `CaptionBank` with one caption
per image instead of several per class.

Everything a checkpoint needs (`state()`) is plain strings and ints, so that it loads with
`torch.load(weights_only=True)`; token ids are a word's position in the sorted vocabulary, so the
same words always get the same ids.
"""

from __future__ import annotations

import difflib
import itertools
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import torch

from gancli.errors import GancliError

PAD = 0
#: How many known words an unknown-word error lists before "and N more".
SHOWN_WORDS = 40

_WORD = re.compile(r"[^\W_]+")  # runs of (Unicode) letters and digits


def tokenize(text: str) -> list[str]:
    """The lowercase words of `text`: runs of letters and digits, everything else separates
    them ("T-shirt/top" → t, shirt, top)."""
    return _WORD.findall(text.lower())


def _quote_list(words: Iterable[str]) -> str:
    return ", ".join(f"'{w}'" for w in words)


class Vocabulary:
    """Words ↔ token ids: 0 is padding, the words get 1..V in sorted order, so the ids depend
    only on the set of words (stable across runs and machines)."""

    def __init__(self, words: Iterable[str]) -> None:
        self.words: list[str] = sorted(set(words))
        self._ids = {w: i for i, w in enumerate(self.words, start=1)}

    @classmethod
    def from_texts(cls, texts: Iterable[str]) -> Vocabulary:
        """The vocabulary of every word in `texts`."""
        return cls(w for text in texts for w in tokenize(text))

    @classmethod
    def from_list(cls, words: list[str]) -> Vocabulary:
        """Inverse of `to_list` (e.g. from a checkpoint)."""
        return cls(words)

    def to_list(self) -> list[str]:
        """The words in id order (id = position + 1), plain strings for a checkpoint."""
        return list(self.words)

    def __len__(self) -> int:
        """V + 1: the words and padding, i.e. the size an embedding table needs."""
        return len(self.words) + 1

    def __contains__(self, word: object) -> bool:
        return word in self._ids

    def _known(self) -> str:
        shown = ", ".join(self.words[:SHOWN_WORDS])
        more = len(self.words) - SHOWN_WORDS
        return shown + (f" and {more} more" if more > 0 else "")

    def ids(self, text: str, length: int, what: str = "prompt") -> list[int]:
        """The token ids of `text` padded with 0 (or truncated) to `length`; an empty text or an
        unknown word is a `GancliError` naming it (`what` says what the text is, for it)."""
        words = tokenize(text)
        if not words:
            raise GancliError(f"{what} {text!r} has no words (runs of letters or digits): "
                              f"describe the image with the model's words, e.g. {self._known()}")
        unknown = list(dict.fromkeys(w for w in words if w not in self._ids))
        if unknown:
            named = []
            for w in unknown:
                close = difflib.get_close_matches(w, self.words, n=3)
                named.append(f"'{w}'" + (f" (did you mean {_quote_list(close)}?)" if close else ""))
            raise GancliError(
                f"unknown word{'s' if len(unknown) > 1 else ''} {', '.join(named)} in {what} "
                f"{text!r}; the model knows {len(self.words)} words ({self._known()}): use words "
                "from its training captions")
        ids = [self._ids[w] for w in words][:length]
        return ids + [PAD] * (length - len(ids))

    def encode(self, text: str, length: int, what: str = "prompt") -> torch.Tensor:
        """`ids` as a LongTensor of shape (length,)."""
        return torch.tensor(self.ids(text, length, what), dtype=torch.long)

    def decode(self, tokens: torch.Tensor | Iterable[int]) -> str:
        """The words of one row of token ids, padding dropped."""
        ids = tokens.tolist() if isinstance(tokens, torch.Tensor) else list(tokens)
        return " ".join(self.words[i - 1] for i in ids if i != PAD)


class _Captions:
    """What built-in and folder captions share: the vocabulary, the padded length `length` of
    every token row, prompt encoding and the checkpoint state."""

    kind: str  # "labels" or "folder": which class `captions_from_state` rebuilds

    def __init__(self, vocab: Vocabulary, length: int) -> None:
        self.vocab = vocab
        self.length = length

    def encode(self, prompt: str) -> torch.Tensor:
        """A user's prompt as a 1×length LongTensor (on CPU). Unknown words, an empty prompt or
        more words than any training caption has are a `GancliError`."""
        n = len(tokenize(prompt))
        if n > self.length:
            raise GancliError(f"prompt {prompt!r} has {n} words but this model's captions have at "
                              f"most {self.length}: shorten it")
        return self.vocab.encode(prompt, self.length).unsqueeze(0)

    def decode(self, tokens: torch.Tensor) -> str:
        """The words of one row of token ids."""
        return self.vocab.decode(tokens)

    def _rows(self, texts: Iterable[str], what: str) -> list[list[int]]:
        return [self.vocab.ids(t, self.length, what) for t in texts]

    def state(self) -> dict[str, Any]:
        """Plain data (strings, ints, lists) for a checkpoint, loadable with weights_only."""
        return {"kind": self.kind, "words": self.vocab.to_list(), "length": self.length}

    def to(self, device: torch.device | str) -> _Captions:
        """Move the token tables to `device` (in place, like a module), returning self."""
        raise NotImplementedError


# ---- Built-in captions of the labelled datasets ------------------------------------------------

DIGIT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
#: Class k of digits / mnist: its word and its numeral.
DIGIT_NAMES: tuple[tuple[str, ...], ...] = tuple((w, str(k)) for k, w in enumerate(DIGIT_WORDS))

#: Fashion-MNIST's classes in label order. "t-shirt" tokenizes to "t shirt", still distinct from
#: class 6's "shirt" as a phrase.
FASHION_NAMES: tuple[tuple[str, ...], ...] = (
    ("t-shirt", "top", "tee"),
    ("trouser", "trousers", "pants"),
    ("pullover", "sweater", "jumper"),
    ("dress", "gown"),
    ("coat", "jacket"),
    ("sandal", "sandals"),
    ("shirt", "blouse"),
    ("sneaker", "trainer", "running shoe"),
    ("bag", "handbag", "purse"),
    ("ankle boot", "boot"),
)

#: CIFAR-10's classes in label order.
CIFAR10_NAMES: tuple[tuple[str, ...], ...] = (
    ("airplane", "plane", "aeroplane"),
    ("automobile", "car"),
    ("bird", "songbird"),
    ("cat", "kitten"),
    ("deer", "stag"),
    ("dog", "puppy"),
    ("frog", "toad"),
    ("horse", "pony"),
    ("ship", "boat"),
    ("truck", "lorry"),
)


@dataclass(frozen=True)
class Templates:
    """One dataset family's captions: `fillings(label)` gives the ways to name a class (one
    dict of template fields each); every TRAIN / HELD_OUT template is filled with each."""

    num_classes: int
    train: tuple[str, ...]
    held_out: tuple[str, ...]
    fillings: Callable[[int], list[dict[str, str]]]

    def captions(self, label: int, held_out: bool = False) -> list[str]:
        """The distinct captions of class `label` (distinct as word sequences), template-major."""
        texts = [t.format(**f) for t in (self.held_out if held_out else self.train)
                 for f in self.fillings(label)]
        seen: dict[tuple[str, ...], str] = {}
        for text in texts:
            seen.setdefault(tuple(tokenize(text)), text)
        return list(seen.values())


def _named(names: tuple[tuple[str, ...], ...]) -> Callable[[int], list[dict[str, str]]]:
    return lambda label: [{"name": n} for n in names[label]]


def _stacked(label: int) -> list[dict[str, str]]:
    """Label = 100·red + 10·green + blue digit (as in `gancli.data.stacked`); each digit as
    word or numeral, in every combination."""
    r, g, b = label // 100, label // 10 % 10, label % 10
    return [{"r": rn, "g": gn, "b": bn}
            for rn, gn, bn in itertools.product(DIGIT_NAMES[r], DIGIT_NAMES[g], DIGIT_NAMES[b])]


DIGITS = Templates(
    num_classes=10,
    train=("a handwritten {name}", "the digit {name}", "a picture of the number {name}",
           "an image of a {name} written by hand", "{name}", "a drawing of the digit {name}",
           "the number {name} written by hand"),
    held_out=("a picture of a handwritten {name}", "the handwritten digit {name}",
              "an image of the number {name}", "a drawing of a {name} written by hand"),
    fillings=_named(DIGIT_NAMES),
)

FASHION = Templates(
    num_classes=10,
    train=("a photo of a {name}", "a {name}", "a picture of a {name}", "an image of {name}",
           "a product photo of a {name}", "{name}", "a black and white photo of a {name}"),
    held_out=("a picture of {name}", "an image of a {name}",
              "a black and white picture of a {name}", "a product picture of {name}"),
    fillings=_named(FASHION_NAMES),
)

CIFAR10 = Templates(
    num_classes=10,
    train=("a photo of a {name}", "a {name}", "a picture of a {name}", "an image of a {name}",
           "a small photo of the {name}", "a blurry photo of a {name}", "{name}"),
    held_out=("a small picture of a {name}", "a blurry image of the {name}", "the {name}",
              "a photo of the {name}"),
    fillings=_named(CIFAR10_NAMES),
)

STACKED = Templates(
    num_classes=1000,
    train=("red {r} green {g} blue {b}", "digits {r} {g} {b}",
           "a red {r} a green {g} and a blue {b}",
           "the digits {r} {g} {b} in red green and blue"),
    # New orders bind each digit to its colour by the colour word, not by position.
    held_out=("blue {b} green {g} red {r}", "green {g} red {r} blue {b}",
              "a red {r} green {g} and blue {b}", "the digits {r} {g} {b}"),
    fillings=_stacked,
)

#: Dataset name (`data=`) → its caption templates.
TEMPLATES: dict[str, Templates] = {
    "digits": DIGITS,
    "mnist": DIGITS,
    "fashion_mnist": FASHION,
    "cifar10": CIFAR10,
    "stacked_mnist": STACKED,
}
CAPTIONED_DATASETS = tuple(TEMPLATES)


class CaptionBank(_Captions):
    """The built-in captions of a labelled dataset, as token tables on one device.

    `table` is num_classes × K × length: class c's distinct training captions in its first
    `counts[c]` rows, repeated to fill K (classes have different numbers of synonyms). `held`
    is the same for the held-out phrasings. Pass `vocab` and `length` to rebuild a trained
    model's bank (`from_state`); by default they come from the training captions.
    """

    kind = "labels"

    def __init__(self, dataset: str, num_classes: int, vocab: Vocabulary | None = None,
                 length: int | None = None) -> None:
        if dataset not in TEMPLATES:
            hint = (" (folder captions come from its captions file: see read_captions)"
                    if dataset == "folder" else "")
            raise GancliError(f"conditioning=text: no built-in captions for dataset '{dataset}'"
                              f"{hint}; supported: {', '.join(CAPTIONED_DATASETS)}, or data=folder "
                              "with a captions.tsv or captions.json")
        templates = TEMPLATES[dataset]
        if num_classes != templates.num_classes:
            raise GancliError(f"conditioning=text: dataset '{dataset}' has "
                              f"{templates.num_classes} classes, not {num_classes}")
        self.dataset, self.num_classes = dataset, num_classes
        self._train = [templates.captions(c) for c in range(num_classes)]
        self._held = [templates.captions(c, held_out=True) for c in range(num_classes)]
        every = [t for caps in self._train + self._held for t in caps]
        needed = max(len(tokenize(t)) for t in every)
        if vocab is None:
            vocab = Vocabulary.from_texts(t for caps in self._train for t in caps)
            length = needed
        elif length is None or length < needed or any(
                w not in vocab for t in every for w in tokenize(t)):
            raise GancliError(f"the checkpoint's caption vocabulary does not cover this gancli's "
                              f"built-in captions for '{dataset}' (the templates changed since it "
                              "was trained): retrain, or use the gancli version that trained it")
        super().__init__(vocab, length)
        self.table, self.counts = self._pack(self._train)
        self.held, self.held_counts = self._pack(self._held)

    def _pack(self, per_class: list[list[str]]) -> tuple[torch.Tensor, torch.Tensor]:
        k = max(len(caps) for caps in per_class)
        rows = {t: ids for caps in per_class
                for t, ids in zip(caps, self._rows(caps, "caption"), strict=True)}
        table = [[rows[caps[i % len(caps)]] for i in range(k)] for caps in per_class]
        return (torch.tensor(table, dtype=torch.long),
                torch.tensor([len(caps) for caps in per_class], dtype=torch.long))

    def to(self, device: torch.device | str) -> CaptionBank:
        self.table, self.counts = self.table.to(device), self.counts.to(device)
        self.held, self.held_counts = self.held.to(device), self.held_counts.to(device)
        return self

    def _on(self, device: torch.device) -> None:
        if self.table.device != device:
            self.to(device)

    def sample(self, labels: torch.Tensor, generator: torch.Generator | None = None
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

    def state(self) -> dict[str, Any]:
        return {**super().state(), "dataset": self.dataset, "num_classes": self.num_classes}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> CaptionBank:
        """The bank a checkpoint's `state()` describes, with the trained model's token ids."""
        return cls(state["dataset"], state["num_classes"], Vocabulary.from_list(state["words"]),
                   state["length"])


# ---- Folder captions -----------------------------------------------------------------------

CAPTION_FILES = ("captions.tsv", "captions.json")
FORMAT = ("captions.tsv with one 'FILE<TAB>caption' line per image, or captions.json "
          "{\"FILE\": \"caption\"}, FILE relative to the folder (e.g. cats/001.png)")


def _key(name: str) -> str:
    """A captions-file entry or an image path relative to the folder, in one spelling."""
    return PurePosixPath(name.strip().replace("\\", "/")).as_posix()


def _read_tsv(path: Path) -> dict[str, str]:
    entries: dict[str, str] = {}
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        name, tab, caption = line.partition("\t")
        if not tab or not caption.strip():
            raise GancliError(f"{path} line {n}: expected FILE<TAB>caption, got {line!r}")
        key = _key(name)
        if key in entries:
            raise GancliError(f"{path} line {n}: {key} already has a caption; give one per image")
        entries[key] = caption.strip()
    return entries


def _read_json(path: Path) -> dict[str, str]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise GancliError(f"{path} is not valid JSON ({err}); expected {FORMAT}") from None
    if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
        raise GancliError(f"{path} must be one object of file → caption strings; expected {FORMAT}")
    return {_key(k): v.strip() for k, v in data.items()}


def read_captions(root: Path, files: list[Path]) -> list[str]:
    """The caption of each image in `files` (index-aligned), from `root/captions.tsv` or
    `root/captions.json`. Entries for other images are ignored (a split uses some of them);
    a missing file, an image without a caption or a caption without words is a `GancliError`."""
    found = [root / name for name in CAPTION_FILES if (root / name).is_file()]
    if not found:
        raise GancliError(f"folder: no captions file in {root}: conditioning=text needs {FORMAT}")
    if len(found) > 1:
        raise GancliError(f"folder: both {found[0].name} and {found[1].name} in {root}: keep one")
    path = found[0]
    entries = _read_tsv(path) if path.suffix == ".tsv" else _read_json(path)
    keys = [_key(str(f.relative_to(root) if f.is_relative_to(root) else f)) for f in files]
    captions = []
    for key in keys:
        if key not in entries:
            missing = sum(k not in entries for k in keys)
            raise GancliError(f"folder: image {key} has no caption in {path} ({missing} of "
                              f"{len(files)} images lack one); expected {FORMAT}")
        if not tokenize(entries[key]):
            raise GancliError(f"folder: the caption of {key} in {path} has no words: "
                              f"{entries[key]!r}")
        captions.append(entries[key])
    return captions


def _no_held_out() -> GancliError:
    return GancliError("held-out phrasings exist only for the built-in caption templates "
                       f"({', '.join(CAPTIONED_DATASETS)}), not for data=folder captions")


class FolderCaptions(_Captions):
    """Per-image captions of `data=folder` (index-aligned with the dataset), as a token table
    N × length. Same interface as `CaptionBank`, indexed by image instead of class. Pass `vocab`
    and `length` to encode with a trained model's ids (`from_state`)."""

    kind = "folder"

    def __init__(self, captions: list[str], vocab: Vocabulary | None = None,
                 length: int | None = None) -> None:
        if vocab is None:
            vocab = Vocabulary.from_texts(captions)
        if length is None:
            length = max((len(tokenize(t)) for t in captions), default=1)
        super().__init__(vocab, length)
        self._captions = list(captions)
        self.table = torch.tensor(self._rows(captions, "caption"), dtype=torch.long).view(
            len(captions), length)

    def __len__(self) -> int:
        return len(self._captions)

    def to(self, device: torch.device | str) -> FolderCaptions:
        self.table = self.table.to(device)
        return self

    def sample(self, indices: torch.Tensor, generator: torch.Generator | None = None
               ) -> torch.Tensor:
        """N×length tokens: the captions of images `indices`, on indices.device (`generator`
        is unused: each image has one caption)."""
        if not self._captions:
            raise GancliError("these folder captions were restored from a checkpoint, which "
                              "keeps only the vocabulary: build them from the folder's captions "
                              "file (read_captions)")
        if self.table.device != indices.device:
            self.to(indices.device)
        return self.table[indices]

    def caption(self, index: int, k: int = 0) -> str:
        """The caption of image `index` (`k` is ignored: one caption per image)."""
        return self._captions[index]

    def held_out(self, labels: torch.Tensor) -> torch.Tensor:
        """Not available: raises a `GancliError` (folder captions have no templates)."""
        raise _no_held_out()

    def held_out_text(self, label: int, k: int = 0) -> str:
        """Not available: raises a `GancliError` (folder captions have no templates)."""
        raise _no_held_out()

    @classmethod
    def from_state(cls, state: dict[str, Any], captions: list[str] | None = None
                   ) -> FolderCaptions:
        """A trained model's vocabulary; `captions` (e.g. a split's, from `read_captions`)
        become the table, encoded with its ids."""
        return cls(captions or [], Vocabulary.from_list(state["words"]), state["length"])


def captions_from_state(state: dict[str, Any]) -> CaptionBank | FolderCaptions:
    """Rebuild whichever captions a checkpoint's `state()` came from."""
    return FolderCaptions.from_state(state) if state["kind"] == "folder" else \
        CaptionBank.from_state(state)
