"""Captions for text conditioning (`conditioning=text`, GAN-INT-CLS, Reed et al. 2016).

Reed et al. condition on a pretrained sentence encoder; gancli runs where nothing can be
downloaded, so the text encoder (`gancli.models.text_encoder`) is small and trained jointly with
the GAN from these captions.

- `vocabulary`: the tokenizer and the word ↔ token id table every source encodes with.
- `templates`: the built-in class names and phrasings of the labelled datasets (data only).
- `files`: reading a folder's `captions.tsv` / `captions.json`.
- `source`: `CaptionSource`, everything `TextConditioning` asks of its captions.
- `per_class` (`CaptionBank`, templates per class) and `per_image` (`FolderCaptions`, a caption
  per image file): its two implementations.

A new caption source is a `CaptionSource` subclass added to `SOURCES`: its `datasets` say which
`data=` it serves, its `kind` which checkpoints it rebuilds.
"""

from __future__ import annotations

from typing import Any

from gancli.conditioning.captions.per_class import CaptionBank
from gancli.conditioning.captions.per_image import FolderCaptions
from gancli.conditioning.captions.source import CaptionSource
from gancli.data import DataInfo
from gancli.errors import GancliError

#: Every caption source, by the `kind` its checkpoint state names.
SOURCES: dict[str, type[CaptionSource]] = {s.kind: s for s in (CaptionBank, FolderCaptions)}


def new_source(info: DataInfo) -> CaptionSource:
    """The caption source of a new run on dataset `info`: the one whose `datasets` name it."""
    for source in SOURCES.values():
        if info.name in source.datasets:
            return source.for_data(info)
    served = ", ".join(d for s in SOURCES.values() for d in s.datasets)
    raise GancliError(
        f"conditioning=text: no captions for dataset '{info.name}'; supported: "
        f"{served} (data=folder with a captions.tsv or captions.json)"
    )


def captions_from_state(state: dict[str, Any]) -> CaptionSource:
    """Rebuild whichever caption source a checkpoint's `state()` came from."""
    return SOURCES[state["kind"]].from_state(state)
