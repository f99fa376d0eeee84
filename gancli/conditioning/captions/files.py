"""Reading the per-image captions of `data=folder`: `captions.tsv` or `captions.json` beside
the images, one caption per image file (paths relative to the folder)."""

from __future__ import annotations

import json
from pathlib import Path, PurePosixPath

from gancli.conditioning.captions.vocabulary import tokenize
from gancli.errors import GancliError

CAPTION_FILES = ("captions.tsv", "captions.json")
FORMAT = (
    "captions.tsv with one 'FILE<TAB>caption' line per image, or captions.json "
    '{"FILE": "caption"}, FILE relative to the folder (e.g. cats/001.png)'
)


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
            raise GancliError(
                f"folder: image {key} has no caption in {path} ({missing} of "
                f"{len(files)} images lack one); expected {FORMAT}"
            )
        if not tokenize(entries[key]):
            raise GancliError(
                f"folder: the caption of {key} in {path} has no words: {entries[key]!r}"
            )
        captions.append(entries[key])
    return captions
