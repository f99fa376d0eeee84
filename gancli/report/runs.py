"""A run folder as the report reads it: the files `gancli train` writes, nothing else.

A run folder holds `.hydra/config.yaml` (the composed config), `.hydra/overrides.yaml` (the
command line's overrides), `.hydra/hydra.yaml` (the config groups' choices), `metrics.jsonl`,
`samples/step_<N>.png` and, once training completed, `samples/final.png`; and one folder per
`gancli eval ckpt=RUN`, `eval/<date>_<time>/` with its `eval.json` (an older gancli's evaluation
may sit in the run folder itself: `RUN/eval.json`).
`metrics.jsonl` mixes four kinds of line: training values (they have `loss_d`), alerts (they
have `alert`), where a segment of the run trained (they have `device`) and evaluation scores
(the rest). A crashed run may end on a half-written line;
such lines are skipped and counted, so the page can say so.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from gancli.errors import GancliError

#: What makes a folder a run folder.
RUN_FILES = ("metrics.jsonl", ".hydra/config.yaml")

EXPECTED = (
    "expected a run folder (with metrics.jsonl and .hydra/config.yaml, as `gancli train` "
    "writes) or a sweep folder holding such runs"
)

#: One value per step: a resumed run logs the steps between its checkpoint and the crash
#: twice, and the later line is the one the run went on from.
Series = dict[int, float]

#: Where `gancli eval ckpt=RUN` writes its results: a folder per evaluation below it.
EVAL_FOLDER = "eval"


@dataclass
class Evaluation:
    """One `gancli eval` of the run: its folder and its eval.json."""

    folder: Path
    result: dict

    def file(self, name: str) -> Path | None:
        """A file the evaluation wrote (`memorization.png`), None when it did not."""
        path = self.folder / name
        return path if path.is_file() else None


@dataclass
class Run:
    """What one run folder holds, read once."""

    folder: Path
    config: dict
    config_text: str
    overrides: list[str]
    choices: dict[str, str | None]
    #: Training values (`loss_d`, `d_real`, ...) per key, step → value.
    train: dict[str, Series] = field(default_factory=dict)
    #: Evaluation lines in the order written, each with `step`.
    evals: list[dict] = field(default_factory=list)
    #: Alert lines: `step`, `alert`, `seen`, `advice`.
    alerts: list[dict] = field(default_factory=list)
    #: The training pictures, (step, path), in step order.
    samples: list[tuple[int, Path]] = field(default_factory=list)
    #: Where each segment of the run trained: `step`, `device`, `gpu`, `threads`, `job`.
    placements: list[dict] = field(default_factory=list)
    #: `gancli eval`'s evaluations of the run, oldest first.
    evaluations: list[Evaluation] = field(default_factory=list)
    #: Lines of metrics.jsonl that did not parse (a crash mid-write).
    skipped_lines: int = 0

    @property
    def final_samples(self) -> Path | None:
        """samples/final.png, which training writes only when it completed."""
        path = self.folder / "samples" / "final.png"
        return path if path.is_file() else None

    @property
    def finished(self) -> bool:
        """Whether training completed (a diverged or stopped run did not)."""
        return self.final_samples is not None

    @property
    def steps(self) -> int | None:
        """The steps the run was asked for (`train.steps`)."""
        steps = lookup(self.config, "train.steps")
        return steps if isinstance(steps, int) else None

    @property
    def seed(self) -> object:
        """`train.seed`: what a group of runs averages over."""
        return lookup(self.config, "train.seed")

    @property
    def last_step(self) -> int | None:
        """The last step any line of metrics.jsonl names (None: no line)."""
        steps = [s for series in self.train.values() for s in series]
        steps += [r["step"] for r in (*self.evals, *self.alerts)]
        return max(steps, default=None)

    def last(self, key: str) -> float | None:
        """The last logged training value of `key` (None: never logged)."""
        series = self.train.get(key)
        return series[max(series)] if series else None

    @property
    def final_scores(self) -> dict:
        """Each evaluation value as last written: 2D runs score their pictures (mode scores)
        on other steps than `train.eval_every`'s evaluations, so one line need not hold all."""
        scores: dict = {}
        for record in self.evals:
            scores.update((k, v) for k, v in record.items() if k != "step")
        return scores

    def value(self, key: str) -> object:
        """The run's value of an override key: the option chosen for a config group (`loss`),
        else the dotted key's value in the composed config (so a run that did not override a
        key still shows its value)."""
        if key in self.choices:
            return self.choices[key]
        return lookup(self.config, key)


def lookup(config: dict, key: str) -> object:
    """The value at a dotted key of a nested dict (None where the path ends early)."""
    node: object = config
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def is_run(folder: Path) -> bool:
    """Whether `folder` is a run folder (`RUN_FILES`)."""
    return all((folder / name).is_file() for name in RUN_FILES)


def _read_yaml(path: Path, default: Any) -> Any:
    """A YAML file's content; `default` when it is absent or empty."""
    return _parse_yaml(path.read_text(), path, default) if path.is_file() else default


def _parse_yaml(text: str, path: Path, default: Any) -> Any:
    """`text` (read from `path`) as YAML; `default` when it is empty. `Any`: the file's shape
    is whatever Hydra wrote, which the callers know."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise GancliError(
            f"{path} is not valid YAML ({err.__class__.__name__}); {EXPECTED}"
        ) from None
    return default if data is None else data


def _sample_step(path: Path) -> int | None:
    match = re.fullmatch(r"step_(\d+)\.png", path.name)
    return int(match.group(1)) if match else None


def effective_config(hydra: Path) -> Path:
    """The config the run last trained with: a resumed run's newest segment's
    (`.hydra/resumed-<time>/config.yaml`, its checkpoint's config with that command line
    applied: `train.steps` raised, say), else the first one's."""
    segments = sorted(hydra.glob("resumed-*/config.yaml"))
    return segments[-1] if segments else hydra / "config.yaml"


def read_run(folder: Path) -> Run:
    """Read the run folder `folder` (`is_run(folder)` holds)."""
    hydra = folder / ".hydra"
    config_file = effective_config(hydra)
    config_text = config_file.read_text()
    hydra_cfg = _read_yaml(hydra / "hydra.yaml", {})
    choices = (
        hydra_cfg.get("hydra", {}).get("runtime", {}).get("choices", {})
        if isinstance(hydra_cfg, dict)
        else {}
    )
    run = Run(
        folder=folder,
        config=_parse_yaml(config_text, config_file, {}),
        config_text=config_text,
        overrides=[str(o) for o in _read_yaml(hydra / "overrides.yaml", [])],
        choices=choices or {},
    )
    for record in _records(folder / "metrics.jsonl", run):
        if "alert" in record:
            run.alerts.append(record)
        elif "device" in record:
            run.placements.append(record)
        elif "loss_d" in record:
            for key, value in record.items():
                if key != "step" and isinstance(value, (int, float)):
                    run.train.setdefault(key, {})[record["step"]] = float(value)
        else:
            run.evals.append(record)
    pictures = ((_sample_step(p), p) for p in (folder / "samples").glob("step_*.png"))
    run.samples = sorted((step, p) for step, p in pictures if step is not None)
    files = [folder / "eval.json", *sorted((folder / EVAL_FOLDER).glob("*/eval.json"))]
    run.evaluations = [
        Evaluation(f.parent, result) for f in files if (result := _read_json(f)) is not None
    ]
    return run


def _read_json(path: Path) -> dict | None:
    """A JSON object file's content; None when it is absent, unreadable or no object (an
    evaluation cut off before it wrote its results)."""
    try:
        loaded = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return loaded if isinstance(loaded, dict) else None


def run_name(folder: Path) -> str:
    """What a page calls a run folder: its name, with the parents it needs to say something
    (a sweep job `3` → `sweep/3`; Hydra's `train/2026-12-04/15-28-11` as it is), never the
    absolute path, which says where the report was made rather than what the run is."""
    parts = folder.resolve().parts
    start = len(parts) - 1
    while start > 1 and re.fullmatch(r"[\d_:.-]+", parts[start]):  # numbers, dates, times
        start -= 1
    return "/".join(parts[start:])


def _records(path: Path, run: Run) -> Iterator[dict]:
    """The JSON objects of metrics.jsonl that have a `step`; others are counted in
    `run.skipped_lines`."""
    for line in path.read_text(errors="replace").splitlines():
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            record = None
        if isinstance(record, dict) and isinstance(record.get("step"), int):
            yield record
        else:
            run.skipped_lines += 1


def find_runs(path: Path) -> list[Path]:
    """The run folders at or below `path`, in job order (`2/` before `10/`). A path that is
    neither a run nor holds one is a `GancliError` naming it."""
    if not path.is_dir():
        raise GancliError(f"{path}: no such folder; {EXPECTED}")
    if is_run(path):
        return [path]
    runs = sorted(
        (p.parent for p in path.rglob("metrics.jsonl") if is_run(p.parent)),
        key=lambda p: [
            (0, int(s), "") if s.isdigit() else (1, 0, s) for s in p.relative_to(path).parts
        ],
    )
    if not runs:
        raise GancliError(f"{path} holds no run; {EXPECTED}")
    return runs
