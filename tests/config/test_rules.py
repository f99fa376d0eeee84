"""The cross-group rules (`gancli.config.rules`): each combination that cannot train is refused
by `validate`, from the config alone, before any data is read or model built, in its one line;
the configs each rule's groups allow pass."""

from __future__ import annotations

import pytest
from omegaconf import OmegaConf

from gancli.config import validate
from gancli.config.rules import RULES, points
from gancli.errors import ConfigError
from tests.conftest import compose_train

RING8 = ["data=ring8", "model=mlp", "data.num_points=512"]

CASES = [
    (
        [*RING8, "augment=diffaug"],
        "augment=diffaug augments images and data=ring8 is 2D points: use augment=none",
    ),
    (
        [*RING8, "conditioning=image"],
        "conditioning=image translates images and data=ring8 is 2D points: use an image dataset "
        "or data=paired_folder",
    ),
    (
        ["conditioning=image", "model=dcgan"],
        "conditioning=image needs model=pix2pix (U-Net + PatchGAN), not model=dcgan: add "
        "model=pix2pix",
    ),
    (
        ["conditioning=image", "augment=diffaug"],
        "augment would change the image D judges but not the input it is paired with: use "
        "augment=none with conditioning=image",
    ),
    (
        ["conditioning=image", "augment=none", "train.pack=2"],
        "train.pack (PacGAN) does not apply to image pairs: set train.pack=1",
    ),
    (
        ["conditioning=class", "train.pack=2"],
        "train.pack (PacGAN) joins unrelated samples into one input of D, which "
        "conditioning=class cannot label: set train.pack=1",
    ),
    (
        ["conditioning=text", "train.pack=2"],
        "train.pack (PacGAN) joins unrelated samples into one input of D, which "
        "conditioning=text cannot label: set train.pack=1",
    ),
    (
        ["data=ring8", "data.num_points=512"],
        "model=dcgan needs image data, but data=ring8 is 2D points: use model=mlp",
    ),
    (["model=pix2pix"], "model=pix2pix translates images: use it with conditioning=image"),
    (
        ["train.sync_batchnorm=true", "loss.r2_gamma=1"],
        "train.sync_batchnorm=true with loss.r2_gamma=1.0 cannot train: the penalty's double "
        "backward is not supported by SyncBatchNorm, which D keeps (model.d_norm=batch); set "
        "model.d_norm=layer or train.sync_batchnorm=false",
    ),
]


@pytest.mark.parametrize("overrides, line", CASES)
def test_each_rule_refuses_its_combination_in_one_line(overrides: list[str], line: str) -> None:
    with pytest.raises(ConfigError) as caught:
        validate(compose_train(*overrides))
    assert str(caught.value) == line


def test_every_rule_has_a_case() -> None:
    """A new row of the table comes with its case above."""
    hit = set()
    for overrides, _ in CASES:
        cfg = compose_train(*overrides)
        hit |= {i for i, rule in enumerate(RULES) if rule.refuses(cfg)}
    assert hit == set(range(len(RULES)))


@pytest.mark.parametrize(
    "overrides",
    [
        [],
        [*RING8],
        [*RING8, "conditioning=class", "conditioning.g=concat", "conditioning.d=concat"],
        ["conditioning=image"],
        ["conditioning=class", "train.pack=1"],
        ["train.pack=2"],
        ["train.sync_batchnorm=true", "loss.r1_gamma=10", "model.d_norm=layer"],
        ["train.sync_batchnorm=true", "loss=hinge"],
    ],
)
def test_combinations_that_train_pass(overrides: list[str]) -> None:
    validate(compose_train(*overrides))


def test_the_data_kind_is_read_from_the_option_schema_without_one_on_the_config() -> None:
    """A config built without the schemas (an old checkpoint's, a test's) still says which
    datasets are points: the option's YAML names its schema."""
    assert points(OmegaConf.create({"data": {"name": "ring8"}}))
    assert not points(OmegaConf.create({"data": {"name": "mnist"}}))
    assert not points(OmegaConf.create({"ckpt": "run"}))  # `gancli sample`: no data group
