"""The config of a resumed run: the checkpoint's own config, with the keys the user set on this
command line applied on top (`gancli train resume=RUN train.steps=20000` changes only the step
budget). Changing the dataset, model or loss would not continue the same run, so it is refused."""

from __future__ import annotations

from typing import Any

from hydra.core.override_parser.overrides_parser import OverridesParser
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from gancli.config import TrainAppConfig, config_error_line, typed, validate
from gancli.errors import ConfigError, GancliError


def resume_config(ckpt: dict[str, Any], resume: str, overrides: list[str]) -> DictConfig:
    """Merge the checkpoint's config with this command line's overrides, type- and
    range-checked against the schemas of the checkpoint's options."""
    cfg = typed(OmegaConf.to_container(OmegaConf.create(ckpt["config"])), TrainAppConfig)
    for override in OverridesParser.create().parse_overrides(overrides):
        key = override.key_or_group
        if key == "resume" or key.startswith("hydra"):
            continue
        value = override.value()
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
