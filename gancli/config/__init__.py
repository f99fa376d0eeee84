"""Typed config schemas: the one place every default and every allowed range lives.

`schemas` holds every key with its type and default (one schema per option of each group),
`ranges` the values numeric keys allow, `rules` the combinations of groups that cannot train,
`checks` what is enforced at the start of every command, before data or models are touched,
and the one-line wording of config errors.

This package must not import torch: it runs on the `--help` and config-error paths, which have
to answer in well under a second.
"""

from gancli.config.checks import config_error_line, typed, upgrade, validate
from gancli.config.ranges import Range, ranged
from gancli.config.schemas import (
    SCHEMAS,
    ClassConditioningConfig,
    ClipLossConfig,
    ConditioningConfig,
    DataConfig,
    DiffAugmentConfig,
    EvalAppConfig,
    EvalOptions,
    FGANLossConfig,
    ImageConditioningConfig,
    ImageDataConfig,
    ImageFilesDataConfig,
    LatentConfig,
    LossConfig,
    MLPModelConfig,
    ModelConfig,
    OptimConfig,
    PenaltyLossConfig,
    PointsDataConfig,
    SampleAppConfig,
    SampleOptions,
    TextConditioningConfig,
    TrainAppConfig,
    TrainConfig,
    option_schema,
    register_configs,
)

__all__ = [
    "SCHEMAS",
    "ClassConditioningConfig",
    "ClipLossConfig",
    "ConditioningConfig",
    "DataConfig",
    "DiffAugmentConfig",
    "EvalAppConfig",
    "EvalOptions",
    "FGANLossConfig",
    "ImageConditioningConfig",
    "ImageDataConfig",
    "ImageFilesDataConfig",
    "LatentConfig",
    "LossConfig",
    "MLPModelConfig",
    "ModelConfig",
    "OptimConfig",
    "PenaltyLossConfig",
    "PointsDataConfig",
    "Range",
    "SampleAppConfig",
    "SampleOptions",
    "TextConditioningConfig",
    "TrainAppConfig",
    "TrainConfig",
    "config_error_line",
    "option_schema",
    "ranged",
    "register_configs",
    "typed",
    "upgrade",
    "validate",
]
