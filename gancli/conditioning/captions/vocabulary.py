"""Words ↔ token ids for every caption source: the tokenizer and the `Vocabulary`.

Token ids are a word's position in the sorted vocabulary, so the same words always get the same
ids: a checkpoint keeps only its word list (`to_list`), and the ids of a model trained months
ago are rebuilt exactly from it.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable

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
            raise GancliError(
                f"{what} {text!r} has no words (runs of letters or digits): "
                f"describe the image with the model's words, e.g. {self._known()}"
            )
        unknown = list(dict.fromkeys(w for w in words if w not in self._ids))
        if unknown:
            named = []
            for w in unknown:
                close = difflib.get_close_matches(w, self.words, n=3)
                named.append(f"'{w}'" + (f" (did you mean {_quote_list(close)}?)" if close else ""))
            raise GancliError(
                f"unknown word{'s' if len(unknown) > 1 else ''} {', '.join(named)} in {what} "
                f"{text!r}; the model knows {len(self.words)} words ({self._known()}): use words "
                "from its training captions"
            )
        ids = [self._ids[w] for w in words][:length]
        return ids + [PAD] * (length - len(ids))

    def encode(self, text: str, length: int, what: str = "prompt") -> torch.Tensor:
        """`ids` as a LongTensor of shape (length,)."""
        return torch.tensor(self.ids(text, length, what), dtype=torch.long)

    def decode(self, tokens: torch.Tensor | Iterable[int]) -> str:
        """The words of one row of token ids, padding dropped."""
        ids = tokens.tolist() if isinstance(tokens, torch.Tensor) else list(tokens)
        return " ".join(self.words[i - 1] for i in ids if i != PAD)
