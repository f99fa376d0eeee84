"""Config schemas: every option has its own keys, every default lives once, every bad value fails
before any work with one line naming the key, the value and what is allowed."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import pytest
import yaml
from omegaconf import OmegaConf

from gancli.config import (
    SCHEMAS,
    EvalAppConfig,
    ImageConditioningConfig,
    LossConfig,
    Range,
    SampleAppConfig,
    TrainAppConfig,
    option_schema,
    typed,
    validate,
)
from gancli.errors import ConfigError
from tests.conftest import REPO, compose_train, run_cli

CONF = REPO / "conf"


def schema_defaults(schema: type) -> dict:
    """Each field's default, as the YAML would spell it."""
    out = {}
    for f in dataclasses.fields(schema):
        if f.default is not dataclasses.MISSING:
            out[f.name] = getattr(f.default, "value", f.default)
        elif f.default_factory is not dataclasses.MISSING:
            out[f.name] = f.default_factory()
    return out


def option_values(group: str, option: str) -> tuple[list, dict]:
    """An option YAML's defaults list and the values it sets for its group (a global-package
    option such as conditioning=image sets them under the group's key)."""
    text = (CONF / group / f"{option}.yaml").read_text()
    values = yaml.safe_load(text) or {}
    defaults = values.pop("defaults", [])
    return defaults, values.get(group, {}) if "@package _global_" in text else values


OPTIONS = [(g, p.stem) for g in SCHEMAS for p in sorted((CONF / g).glob("*.yaml"))]


def test_every_option_extends_a_schema_and_every_schema_serves_an_option() -> None:
    used = {(g, option_schema(g, o)) for g, o in OPTIONS}
    assert None not in {schema for _, schema in used}
    assert used == {(g, schema) for g, schemas in SCHEMAS.items() for schema in schemas.values()}
    assert option_schema("loss", "nope") is None


@pytest.mark.parametrize("group, option", OPTIONS)
def test_option_yaml_extends_its_schema_and_repeats_none_of_its_defaults(
    group: str, option: str
) -> None:
    defaults, values = option_values(group, option)
    schema = option_schema(group, option)
    assert any(str(d).startswith(f"/schema/{group}/") for d in defaults), defaults
    repeated = {
        k: v
        for k, v in values.items()
        if k in schema_defaults(schema) and schema_defaults(schema)[k] == v
    }
    assert not repeated, f"conf/{group}/{option}.yaml repeats its schema's defaults: {repeated}"
    assert values["name"] == option  # the registry name, which no schema can default


@pytest.mark.parametrize(
    "command, schema",
    [("train", TrainAppConfig), ("sample", SampleAppConfig), ("eval", EvalAppConfig)],
)
def test_command_yaml_repeats_none_of_its_schemas_defaults(command: str, schema: type) -> None:
    """Presets (conf/experiment) are recipes and may spell out a default on purpose; the
    command and option YAMLs may not."""
    values = yaml.safe_load((CONF / f"{command}.yaml").read_text())
    values.pop("defaults")
    defaults = schema_defaults(schema)
    assert not {k: v for k, v in values.items() if defaults.get(k, object()) == v}


@pytest.mark.parametrize("group, option", OPTIONS)
def test_composed_option_has_exactly_its_schemas_keys(group: str, option: str) -> None:
    overrides = [f"{group}={option}"]
    if group == "conditioning" and option == "image":
        overrides.append("model=pix2pix")
    node = compose_train(*overrides)[group]
    schema = option_schema(group, option)
    assert OmegaConf.get_type(node) is schema
    assert list(node) == [f.name for f in dataclasses.fields(schema)]
    assert node.name == option


def test_pix2pix_weights_belong_to_image_conditioning_not_to_losses() -> None:
    assert {"l1_weight", "adv_weight"} <= {
        f.name for f in dataclasses.fields(ImageConditioningConfig)
    }
    for schema in SCHEMAS["loss"].values():
        assert not {"l1_weight", "adv_weight"} & {f.name for f in dataclasses.fields(schema)}
    cfg = compose_train("conditioning=image", "conditioning.adv_weight=0")
    assert (cfg.conditioning.l1_weight, cfg.conditioning.adv_weight) == (100.0, 0.0)


def test_train_help_shows_only_the_chosen_options_keys(tmp_path: Path) -> None:
    out = run_cli("train", "--help", cwd=tmp_path).stdout
    assert "loss:\n  name: ns\n  r1_gamma: 0.0\n  r1_every: 1\n" in out
    for other in ("gp_weight", "clip:", "divergence", "l1_weight", "num_points", "depth:"):
        assert other not in out
    assert "schema/" not in out  # the schemas are not groups to choose from
    groups = [p for p in CONF.iterdir() if p.is_dir() and p.name not in ("hydra", "__pycache__")]
    for group in groups:
        options = sorted(f.stem for f in group.glob("*.yaml"))
        assert f"\n{group.name}: {', '.join(options)}\n" in out  # every group, every option
    wgan = run_cli("train", "loss=wgan-gp", "--help", cwd=tmp_path).stdout
    assert "  gp_weight: 10.0\n" in wgan


# -- one line for every bad input ---------------------------------------------------------------


def one_error(result) -> str:  # noqa: ANN001 (conftest's Result)
    """The single error line of a failed command (and that there is no traceback)."""
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    errors = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(errors) == 1, result.stderr
    return errors[0]


@pytest.mark.parametrize(
    "args, line",
    [
        (
            ["loss=ns", "loss.clip=5"],
            "loss=ns has no key 'clip'; its keys: name, r1_gamma, r1_every, r2_gamma, r2_every",
        ),
        (
            ["+loss.clip=5"],
            "loss=ns has no key 'clip'; its keys: name, r1_gamma, r1_every, r2_gamma, r2_every",
        ),
        (["optim.lrr=1"], "optim=adam has no key 'lrr'; its keys: name, lr_g, lr_d, betas"),
        (["+optim.lrr=1"], "optim=adam has no key 'lrr'; its keys: name, lr_g, lr_d, betas"),
        (
            ["model.depth=2"],
            "model=dcgan has no key 'depth'; its keys: name, width, d_width, spectral_norm, d_norm",
        ),
        (
            ["data=ring8", "data.resolution=8"],
            "data=ring8 has no key 'resolution'; its keys: name, num_points",
        ),
        (
            ["conditioning=class", "conditioning.task=edges"],
            "conditioning=class has no key 'task'; its keys: name, g, d, embed_dim, aux_weight, "
            "mismatch",
        ),
        (["train.stepz=1"], "train has no key 'stepz'; its keys: steps, batch_size, n_critic, "),
        (
            ["loss=wgan-gpp"],
            "unknown loss 'wgan-gpp'; choose one of: fgan, hinge, lsgan, minimax, "
            "ns, rpgan, wgan-clip, wgan-gp, wgan-lp, wgan-sn; did you mean loss=wgan-gp?",
        ),
        (
            ["train.device=tpu"],
            "train.device=tpu is not a valid value: must be auto, cpu, cuda or cuda:K",
        ),
        (["train.device=cuda:one"], "train.device=cuda:one is not a valid value"),
        (["train.steps=-1"], "train.steps=-1 is out of range: must be >= 1"),
        (["train.steps=0"], "train.steps=0 is out of range: must be >= 1"),
        (["train.batch_size=0"], "train.batch_size=0 is out of range: must be >= 1"),
        (["data.resolution=0"], "data.resolution=0 is out of range: must be >= 1"),
        (["latent.dim=0"], "latent.dim=0 is out of range: must be >= 1"),
        (["optim.lr_g=-1"], "optim.lr_g=-1.0 is out of range: must be > 0"),
        (
            ["optim.betas=[0.5,1.0]"],
            "optim.betas=[0.5, 1.0] is out of range: each item must be >= 0 and < 1",
        ),
        (["train.n_critic=0"], "train.n_critic=0 is out of range: must be >= 1"),
        (["model.width=0"], "model.width=0 is out of range: must be >= 1"),
        (["train.ema=1"], "train.ema=1.0 is out of range: must be >= 0 and < 1"),
        (["loss=wgan-clip", "loss.clip=0"], "loss.clip=0.0 is out of range: must be > 0"),
        (
            ["conditioning=text", "conditioning.mismatch=2"],
            "conditioning.mismatch=2.0 is out of range: must be >= 0 and <= 1",
        ),
        (["eval.n=1"], "eval.n=1 is out of range: must be >= 2"),
        # Names checked by their registries, before the data is read.
        (["loss=fgan", "loss.divergence=chi"], "unknown f-divergence (loss.divergence) 'chi'"),
        (["augment=diffaug", "augment.policy=[zoom]"], "unknown DiffAugment policy"),
        (["latent.dist=cauchy"], "unknown latent distribution"),
        (["train.precision=fp8"], "unknown precision"),
        # SyncBatchNorm has no double backward, which the penalties on D's gradient need.
        (
            ["train.sync_batchnorm=true", "loss.r1_gamma=10"],
            "train.sync_batchnorm=true with "
            "loss.r1_gamma=10.0 cannot train: the penalty's double backward is not supported by "
            "SyncBatchNorm, which D keeps (model.d_norm=batch); set model.d_norm=layer or "
            "train.sync_batchnorm=false",
        ),
    ],
)
def test_bad_train_input_is_one_line_and_leaves_no_run_folder(
    args: list[str], line: str, tmp_path: Path
) -> None:
    result = run_cli("train", *args, cwd=tmp_path, check=False)
    error = one_error(result)
    assert error.startswith("gancli: error: ") and line in error
    assert not (tmp_path / "outputs").exists()  # nothing written: no half a run


@pytest.mark.parametrize(
    "args, refused",
    [
        (["loss=wgan-gp", "model.d_norm=batch"], "loss.gp_weight=10.0"),
        (["loss=wgan-lp", "model.d_norm=batch"], "loss.gp_weight=10.0"),
        (["loss=hinge", "loss.r1_gamma=1"], "loss.r1_gamma=1.0"),
        (["loss=ns", "loss.r2_gamma=1"], "loss.r2_gamma=1.0"),  # R2 on generated samples
        (["loss=wgan-gp"], None),  # its recipe's layer norm leaves D no batch norm to convert
        (["loss.r1_gamma=10", "model.d_norm=layer"], None),
        (["loss=wgan-gp", "model.d_norm=batch", "loss.gp_weight=0"], None),
        (["loss=ns"], None),
    ],
)
def test_sync_batchnorm_is_refused_only_with_a_double_backward_through_batch_norm(
    args: list[str], refused: str | None
) -> None:
    cfg = compose_train("model=dcgan", "train.sync_batchnorm=true", *args)
    if refused is None:
        validate(cfg)
        return
    with pytest.raises(
        ConfigError,
        match=f"with {refused} cannot train: .* set "
        "model.d_norm=layer or train.sync_batchnorm=false",
    ):
        validate(cfg)


def test_a_sweep_with_one_bad_value_fails_that_job_only(tmp_path: Path) -> None:
    result = run_cli(
        "train",
        "-m",
        "train.steps=-1,1",
        "data.resolution=8",
        "model.width=4",
        "train.batch_size=4",
        "train.device=cpu",
        cwd=tmp_path,
        check=False,
    )
    assert result.returncode == 1
    assert "train.steps=-1 is out of range" in result.stderr
    assert len(list((tmp_path / "outputs").rglob("last.pt"))) == 1  # the good job trained


@pytest.mark.parametrize(
    "args, line",
    [
        ([], "give ckpt=PATH: the run folder or checkpoint file to sample from"),
        (["ckpt=x", "n=0"], "n=0 is out of range: must be >= 1"),
        (["ckpt=x", "sample.steps=1"], "sample.steps=1 is out of range: must be >= 2"),
    ],
)
def test_bad_sample_input_is_one_line(args: list[str], line: str, tmp_path: Path) -> None:
    assert line in one_error(run_cli("sample", *args, cwd=tmp_path, check=False))
    assert not (tmp_path / "outputs").exists()


def test_sample_to_an_unwritable_place_is_one_line(tiny_run: Path, tmp_path: Path) -> None:
    line = one_error(
        run_cli("sample", f"ckpt={tiny_run}", "out=/proc/nope/x.png", cwd=tmp_path, check=False)
    )
    assert "cannot write /proc/nope/x.png" in line


# -- pieces ------------------------------------------------------------------------------------


def test_range_bounds_and_wording() -> None:
    unit = Range(ge=0, lt=1)
    assert unit.allows(0) and unit.allows(0.5)
    assert not unit.allows(1) and not unit.allows(-1e-9) and not unit.allows(math.nan)
    assert str(unit) == ">= 0 and < 1"
    assert str(Range(gt=0)) == "> 0"


def test_a_checkpoint_config_of_the_union_schemas_is_upgraded() -> None:
    """Checkpoints written before per-option schemas hold every key of the old union schema;
    resuming one keeps the values that mean something for its options."""
    old = OmegaConf.to_container(compose_train("conditioning=image"))
    old["loss"] = {
        "name": "ns",
        "gp_weight": 10.0,
        "clip": 0.01,
        "divergence": "kl",
        "r1_gamma": 0.5,
        "l1_weight": 7.0,
        "adv_weight": 0.0,
    }
    old["model"]["depth"] = 3
    cfg = typed(old, TrainAppConfig)
    assert OmegaConf.get_type(cfg.loss) is LossConfig
    assert dict(cfg.loss) == {
        "name": "ns",
        "r1_gamma": 0.5,
        "r1_every": 1,
        "r2_gamma": 0.0,
        "r2_every": 1,
    }
    assert (cfg.conditioning.l1_weight, cfg.conditioning.adv_weight) == (7.0, 0.0)
    assert "depth" not in cfg.model


def test_a_key_no_schema_knew_is_still_refused_when_typing_a_saved_config() -> None:
    old = OmegaConf.to_container(compose_train())
    old["loss"]["clipp"] = 1
    with pytest.raises(ConfigError, match="loss=ns has no key 'clipp'"):
        typed(old, TrainAppConfig)
