"""The config of a resumed run: the checkpoint's own config, with the keys the user set on this
command line applied on top (`gancli train resume=RUN train.steps=20000` changes only the step
budget). Changing the dataset, model or loss would not continue the same run, so it is refused.

`resume=auto` is for a command line relaunched as it is (a cluster script, a requeued job): it
continues from the run folder's own `checkpoints/last.pt` when there is one, else starts afresh.
The relaunch's composed config is the run's config then, so it must agree with the checkpoint's
on what makes the run (`FIXED`); `train.steps` and the like may grow."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from gancli.checkpoint import load_checkpoint
from gancli.config import TrainAppConfig, config_error_line, typed, validate
from gancli.errors import ConfigError, GancliError

#: What a relaunch with `resume=auto` may not change: these make the run what it is.
FIXED = ("data", "model", "loss", "conditioning", "latent", "augment")
#: ... except these keys, which say how the run reads its data, not what it learns.
HOW = {"data": ("placement",)}


def resumed(cfg: DictConfig, overrides: Sequence[tuple[str, Any]], run_dir: Path | None = None
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
        return relaunch_config(ckpt, cfg, last), ckpt
    if not cfg.resume:
        validate(cfg)  # the command did too; a Trainer built in-process is checked the same
        return cfg, None
    ckpt = load_checkpoint(cfg.resume)
    continued = resume_config(ckpt, cfg.resume, overrides)
    # How a run is watched is this command line's choice, not the checkpoint's.
    continued.logger = cfg.logger
    return continued, ckpt


def relaunch_config(ckpt: dict[str, Any], cfg: DictConfig, last: Path) -> DictConfig:
    """`cfg` (a relaunch's composed config) to continue `ckpt`, after checking that it agrees
    with the checkpoint's config on `FIXED`: the first key that differs is named."""
    saved = typed(OmegaConf.to_container(OmegaConf.create(ckpt["config"])), TrainAppConfig)
    for group in FIXED:
        have = OmegaConf.to_container(saved[group], resolve=True)
        want = OmegaConf.to_container(cfg[group], resolve=True)
        for key in HOW.get(group, ()):
            have.pop(key, None)
            want.pop(key, None)
        if have != want:
            key = next((k for k in sorted(set(have) | set(want)) if have.get(k) != want.get(k)),
                       "name")
            raise GancliError(
                f"resume=auto: {last.parent.parent} holds a run with {group}.{key}="
                f"{have.get(key)}, this command line has {want.get(key)}; relaunch with the "
                "run's own settings, or give a new hydra.run.dir")
    cfg = cfg.copy()
    cfg.resume = str(last)
    validate(cfg)
    return cfg


def resume_config(ckpt: dict[str, Any], resume: str,
                  overrides: Sequence[tuple[str, Any]]) -> DictConfig:
    """Merge the checkpoint's config with this command line's overrides, type- and
    range-checked against the schemas of the checkpoint's options. `overrides` are (key or
    group, value) pairs that the command parsed from its command line, so that this module
    needs nothing from Hydra."""
    cfg = typed(OmegaConf.to_container(OmegaConf.create(ckpt["config"])), TrainAppConfig)
    for key, value in overrides:
        if key == "resume" or key.startswith(("hydra", "logger")):
            continue
        if "." not in key and key not in cfg:  # a preset group such as experiment=...
            raise GancliError(f"cannot apply {key}={value} when resuming; start a new run instead")
        node = OmegaConf.select(cfg, key)
        if isinstance(node, DictConfig):  # a config group choice such as loss=wgan-gp
            if node.get("name") != value:
                raise GancliError(f"cannot change {key} when resuming (the checkpoint has "
                                  f"{key}={node.get('name')}); start a new run instead")
            continue
        try:
            OmegaConf.update(cfg, key, value, merge=True)
        except OmegaConfBaseException as err:  # a key this run's options lack, a wrong type
            raise ConfigError(config_error_line(err)) from None
    cfg.resume = resume
    validate(cfg)
    return cfg
