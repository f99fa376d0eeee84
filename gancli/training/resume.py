"""The config of a resumed run: the checkpoint's own config, with the keys the user set on this
command line applied on top (`gancli train resume=RUN train.steps=20000` changes only the step
budget). Changing the dataset, model or loss would not continue the same run, so it is refused."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from gancli.checkpoint import load_checkpoint
from gancli.config import TrainAppConfig, config_error_line, typed, validate
from gancli.errors import ConfigError, GancliError


def resumed(cfg: DictConfig, overrides: Sequence[tuple[str, Any]]
            ) -> tuple[DictConfig, dict[str, Any] | None]:
    """The config to train with and the checkpoint to continue from: `cfg` and None for a new
    run; for `resume=RUN`, RUN's checkpoint and its config with `overrides` applied."""
    if not cfg.resume:
        validate(cfg)  # the command did too; a Trainer built in-process is checked the same
        return cfg, None
    ckpt = load_checkpoint(cfg.resume)
    return resume_config(ckpt, cfg.resume, overrides), ckpt


def resume_config(ckpt: dict[str, Any], resume: str,
                  overrides: Sequence[tuple[str, Any]]) -> DictConfig:
    """Merge the checkpoint's config with this command line's overrides, type- and
    range-checked against the schemas of the checkpoint's options. `overrides` are (key or
    group, value) pairs that the command parsed from its command line, so that this module
    needs nothing from Hydra."""
    cfg = typed(OmegaConf.to_container(OmegaConf.create(ckpt["config"])), TrainAppConfig)
    for key, value in overrides:
        if key == "resume" or key.startswith("hydra"):
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
