"""The built-in captions of the labelled datasets, as data: class names and phrasings.

Every class has a few names (synonyms, "sneaker" / "trainer") put into templates with varied
phrasing ("a photo of a {name}", "{name}", ...). One fixed string per class would let the text
encoder memorise the string as a class id; varying the words around the class word makes it
learn that the class word (and, for Stacked MNIST, which colour each digit is bound to) is what
matters.

The templates are split in two. TRAIN phrasings are the only ones the model sees while training.
HELD_OUT phrasings are new orders and combinations of the same training words ("a picture of a
handwritten seven", "blue four green one red seven"): they can be encoded (they use no unknown
word) yet were never seen, so how well images generated from them match their class measures
whether the encoder generalises beyond the strings it was trained on.

A checkpoint's token ids depend on these words (`gancli.conditioning.captions.vocabulary`):
changing a training phrasing makes older text checkpoints refuse to load (`CaptionBank`).
A new labelled dataset gets its captions by one `Templates` entry in `TEMPLATES`.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass

from gancli.conditioning.captions.vocabulary import tokenize

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
        texts = [
            t.format(**f)
            for t in (self.held_out if held_out else self.train)
            for f in self.fillings(label)
        ]
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
    return [
        {"r": rn, "g": gn, "b": bn}
        for rn, gn, bn in itertools.product(DIGIT_NAMES[r], DIGIT_NAMES[g], DIGIT_NAMES[b])
    ]


DIGITS = Templates(
    num_classes=10,
    train=(
        "a handwritten {name}",
        "the digit {name}",
        "a picture of the number {name}",
        "an image of a {name} written by hand",
        "{name}",
        "a drawing of the digit {name}",
        "the number {name} written by hand",
    ),
    held_out=(
        "a picture of a handwritten {name}",
        "the handwritten digit {name}",
        "an image of the number {name}",
        "a drawing of a {name} written by hand",
    ),
    fillings=_named(DIGIT_NAMES),
)

FASHION = Templates(
    num_classes=10,
    train=(
        "a photo of a {name}",
        "a {name}",
        "a picture of a {name}",
        "an image of {name}",
        "a product photo of a {name}",
        "{name}",
        "a black and white photo of a {name}",
    ),
    held_out=(
        "a picture of {name}",
        "an image of a {name}",
        "a black and white picture of a {name}",
        "a product picture of {name}",
    ),
    fillings=_named(FASHION_NAMES),
)

CIFAR10 = Templates(
    num_classes=10,
    train=(
        "a photo of a {name}",
        "a {name}",
        "a picture of a {name}",
        "an image of a {name}",
        "a small photo of the {name}",
        "a blurry photo of a {name}",
        "{name}",
    ),
    held_out=(
        "a small picture of a {name}",
        "a blurry image of the {name}",
        "the {name}",
        "a photo of the {name}",
    ),
    fillings=_named(CIFAR10_NAMES),
)

STACKED = Templates(
    num_classes=1000,
    train=(
        "red {r} green {g} blue {b}",
        "digits {r} {g} {b}",
        "a red {r} a green {g} and a blue {b}",
        "the digits {r} {g} {b} in red green and blue",
    ),
    # New orders bind each digit to its colour by the colour word, not by position.
    held_out=(
        "blue {b} green {g} red {r}",
        "green {g} red {r} blue {b}",
        "a red {r} green {g} and blue {b}",
        "the digits {r} {g} {b}",
    ),
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
