"""The config of a resumed run: the checkpoint's own config, with the keys the user set on this
command line applied on top (`gancli train resume=RUN train.steps=20000` changes only the step
budget). Changing the dataset, model, loss, conditioning or latent would not continue the same
run (the weights would not even fit a changed model), so it is refused, naming each key that
differs with both values; so is a `train.steps` below the step the run has reached.

`resume=auto` is for a command line relaunched as it is (a cluster script, a requeued job) into
a fixed run folder (`hydra.run.dir=...`): it continues from that folder's own
`checkpoints/last.pt` when there is one, else starts the run there. The relaunch's composed
config is the run's config then, so it must agree with the checkpoint's on what makes the run
(`FIXED`); `train.steps` and the like may grow.

Without a fixed folder each launch gets a new, time-stamped one, so there is nothing of its own
to continue, and `resume=auto` is refused in one line naming the newest unfinished run of the
same config (`newest_unfinished`) both ways: `hydra.run.dir=RUN` (the relaunch) or
`resume=RUN`. It does not continue that run by itself: as in lightning-hydra-template
(`ckpt_path=`) and StyleGAN (`--resume=`) the run to continue is named, never guessed, since a
guess among runs of one config can pick one still training in another shell, or another
experiment's; and it never starts a new run at step 1 in place of the one the user meant.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from gancli.checkpoint import load_checkpoint
from gancli.config import TrainAppConfig, config_error_line, typed, validate
from gancli.errors import ConfigError, GancliError

#: What a relaunch with `resume=auto` may not change: these make the run what it is.
FIXED = ("data", "model", "loss", "conditioning", "latent", "augment")
#: What `resume=RUN` may not change: what the weights are shaped by and learn from (a loss's
#: weights, such as loss.gp_weight, may be tuned on the way).
SHAPING = ("data", "model", "conditioning", "latent")
#: ... except these keys, which say how the run reads its data, not what it learns.
HOW = {"data.placement"}
#: `resume=RUN` may also find the data elsewhere (a moved dataset folder).
WHERE = {"data.root"}


def resumed(
    cfg: DictConfig, overrides: Sequence[tuple[str, Any]], run_dir: Path | None = None
) -> tuple[DictConfig, dict[str, Any] | None]:
    """The config to train with and the checkpoint to continue from: `cfg` and None for a new
    run; for `resume=RUN`, RUN's checkpoint and its config with `overrides` applied; for
    `resume=auto`, `run_dir`'s own checkpoint if it has one."""
    if cfg.resume == "auto":
        last = None if run_dir is None else Path(run_dir) / "checkpoints" / "last.pt"
        if last is None or not last.is_file():
            validate(cfg)
            return cfg, None
        ckpt = load_checkpoint(last)
        cfg = relaunch_config(ckpt, cfg, last)
    elif not cfg.resume:
        validate(cfg)  # the command did too; a Trainer built in-process is checked the same
        return cfg, None
    else:
        ckpt = load_checkpoint(cfg.resume)
        logger = cfg.logger
        cfg = resume_config(ckpt, cfg.resume, overrides)
        # How a run is watched is this command line's choice, not the checkpoint's.
        cfg.logger = logger
    if cfg.train.steps < ckpt["step"]:
        raise GancliError(
            f"train.steps={cfg.train.steps} is below step {ckpt['step']}, which "
            f"{cfg.resume} has reached: give train.steps above {ckpt['step']} "
            "to train on"
        )
    return cfg, ckpt


def differences(
    have: DictConfig, want: DictConfig, groups: Sequence[str], allowed: set[str]
) -> list[tuple[str, Any, Any]]:
    """(key, value in `have`, value in `want`) of each dotted key of `groups` whose values
    differ, except the `allowed` ones; a key one side lacks reads as None."""
    a, b = (
        {
            k: v
            for k, v in _flat(
                {g: OmegaConf.to_container(c[g], resolve=True) for g in groups}
            ).items()
            if k not in allowed
        }
        for c in (have, want)
    )
    return [(k, a.get(k), b.get(k)) for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]


def _flat(tree: dict, prefix: str = "") -> dict[str, Any]:
    """`{"model": {"width": 8}}` as `{"model.width": 8}`."""
    out: dict[str, Any] = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            out.update(_flat(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def saved_config(ckpt: dict[str, Any]) -> DictConfig:
    """The config a checkpoint was trained with, on today's schemas."""
    return typed(
        cast(dict, OmegaConf.to_container(OmegaConf.create(ckpt["config"]))), TrainAppConfig
    )


def relaunch_config(ckpt: dict[str, Any], cfg: DictConfig, last: Path) -> DictConfig:
    """`cfg` (a relaunch's composed config) to continue `ckpt`, after checking that it agrees
    with the checkpoint's config on `FIXED`: the first key that differs is named."""
    changed = differences(saved_config(ckpt), cfg, FIXED, HOW)
    if changed:
        key, have, want = changed[0]
        raise GancliError(
            f"resume=auto: {last.parent.parent} holds a run with {key}={have}, this command "
            f"line has {want}; relaunch with the run's own settings, or give a new "
            "hydra.run.dir"
        )
    cfg = cfg.copy()
    cfg.resume = str(last)
    validate(cfg)
    return cfg


def resume_config(
    ckpt: dict[str, Any], resume: str, overrides: Sequence[tuple[str, Any]]
) -> DictConfig:
    """Merge the checkpoint's config with this command line's overrides, type- and
    range-checked against the schemas of the checkpoint's options. `overrides` are (key or
    group, value) pairs that the command parsed from its command line, so that this module
    needs nothing from Hydra."""
    saved = saved_config(ckpt)
    cfg = saved.copy()
    for key, value in overrides:
        if key == "resume" or key.startswith(("hydra", "logger")):
            continue
        if "." not in key and key not in cfg:  # a preset group such as experiment=...
            raise GancliError(f"cannot apply {key}={value} when resuming; start a new run instead")
        node = OmegaConf.select(cfg, key)
        if isinstance(node, DictConfig):  # a config group choice such as loss=wgan-gp
            if node.get("name") != value:
                raise GancliError(
                    f"cannot change {key} when resuming (the checkpoint has "
                    f"{key}={node.get('name')}); start a new run instead"
                )
            continue
        try:
            OmegaConf.update(cfg, key, value, merge=True)
        except OmegaConfBaseException as err:  # a key this run's options lack, a wrong type
            raise ConfigError(config_error_line(err)) from None
    changed = differences(saved, cfg, SHAPING, HOW | WHERE)
    if changed:
        raise GancliError(
            "cannot change what the run is when resuming: "
            + "; ".join(f"{key}: checkpoint {have}, now {want}" for key, have, want in changed)
            + "; drop those keys, or start a new run without resume"
        )
    cfg.resume = resume
    validate(cfg)
    return cfg


def newest_unfinished(cfg: DictConfig, runs: str) -> tuple[Path, int] | None:
    """The run folder matching the glob `runs` whose checkpoint was written last among those
    this command line would continue, and its step: behind `cfg.train.steps`, and of the same
    config on `FIXED`. Checkpoints are memory-mapped, so their weights are not read."""
    lasts = [Path(p) for p in glob.glob(os.path.join(runs, "checkpoints", "last.pt"))]
    for last in sorted(lasts, key=lambda p: p.stat().st_mtime, reverse=True):
        try:
            ckpt = load_checkpoint(last, mmap=True)
            if ckpt["step"] < cfg.train.steps and not differences(
                saved_config(ckpt), cfg, FIXED, HOW
            ):
                return last.parent.parent, ckpt["step"]
        except (GancliError, OmegaConfBaseException):  # unreadable, or an unknown option
            continue
    return None


def auto_without_folder(cfg: DictConfig, runs: str) -> GancliError:
    """The refusal of `resume=auto` in a new time-stamped run folder (see the module's
    docstring); `runs` is the glob of this command's run folders."""
    found = newest_unfinished(cfg, runs)
    if found is None:
        return GancliError(
            f"resume=auto found no unfinished run of this config in {_short(runs)}"
            " to continue: drop resume=auto to start a new run, or give "
            "resume=RUN (or hydra.run.dir=RUN) for the run to continue"
        )
    run, step = found
    return GancliError(
        f"resume=auto needs the run folder: add hydra.run.dir={_short(run)} (the "
        f"newest unfinished run of this config, at step {step} of "
        f"{cfg.train.steps}) or give resume={_short(run)}"
    )


def _short(path: str | Path) -> str:
    """`path` relative to the working directory when it is below it, as a user typed it."""
    text = str(path)
    cwd = os.getcwd() + os.sep
    return text[len(cwd) :] if text.startswith(cwd) else text
