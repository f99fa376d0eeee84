"""Conditional generation (`conditioning=class|text|image`): every G and D method trains with
every loss family and architecture; conditions reach the players; D sees mismatched pairs;
sampling by label, prompt and input image; the conditional metrics measure what they claim."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from gancli.conditioning import build_conditioning
from gancli.conditioning.tasks import make_inputs
from gancli.data import TensorData, load_dataset
from gancli.errors import GancliError
from gancli.evaluation import conditional
from gancli.evaluation.features import Features
from gancli.evaluation.features.classifier import load_classifier
from gancli.losses.base import DiscriminatorStep
from gancli.models.conditional import ConditionalBatchNorm
from gancli.training.loop import Trainer
from tests.conftest import TINY, compose_train, last_line, run_cli

CPU = torch.device("cpu")


def finite(stats: dict) -> bool:
    return all(bool(torch.isfinite(stats[k])) for k in ("loss_d", "loss_g", "divergence"))


# -- every method trains -----------------------------------------------------------------------


@pytest.mark.parametrize("g", ["concat", "cbn"])
@pytest.mark.parametrize("d", ["concat", "projection", "acgan"])
def test_class_conditioning_trains_with_each_g_and_d_method(g: str, d: str, tmp_path: Path) -> None:
    trainer = Trainer(
        compose_train(*TINY, "conditioning=class", f"conditioning.g={g}", f"conditioning.d={d}"),
        tmp_path,
    )
    before = {k: v.clone() for k, v in trainer.gan.G.state_dict().items()}
    assert finite(trainer.train_step(measure=True))
    changed = [
        k
        for k, v in trainer.gan.G.state_dict().items()
        if v.dtype.is_floating_point and not torch.equal(v, before[k])
    ]
    # The label's path into G is trained: its embedding (concat), or the layers predicting
    # batch norm's scale and shift from it (cbn; they start at zero, so the embedding moves
    # from the second step on).
    assert any(k.startswith("encoder") or ".gamma." in k or ".beta." in k for k in changed)
    cbn = [m for m in trainer.gan.G.modules() if isinstance(m, ConditionalBatchNorm)]
    assert bool(cbn) == (g == "cbn")


@pytest.mark.parametrize(
    "loss, model",
    [
        ("ns", "mlp"),
        ("hinge", "resnet"),
        ("lsgan", "dcgan"),
        ("wgan-gp", "resnet"),
        ("wgan-sn", "dcgan"),
        ("fgan", "mlp"),
        ("minimax", "dcgan"),
        ("rpgan", "dcgan"),
    ],
)
def test_class_conditioning_works_with_every_loss_family_and_model(
    loss: str, model: str, tmp_path: Path
) -> None:
    """Each loss family (JS, least squares, hinge, Wasserstein with a penalty or spectral norm,
    f-GAN, relativistic: G's step sees the real batch too) once, each architecture at least
    twice."""
    g = "concat" if model == "mlp" else "cbn"  # an MLP G has no batch norm to condition
    trainer = Trainer(
        compose_train(
            *TINY, "conditioning=class", f"loss={loss}", f"model={model}", f"conditioning.g={g}"
        ),
        tmp_path,
    )
    assert finite(trainer.train_step(measure=True))


def test_a_mode_is_built_from_the_groups_it_reads_alone() -> None:
    """No training, loss or augmentation settings reach a mode: the cross-group rules are
    checked before it is built (`gancli.config.rules`)."""
    from gancli.conditioning import CONDITIONINGS, Groups

    cfg = compose_train(*TINY, "conditioning=class")
    groups = Groups(cfg.conditioning, cfg.model, cfg.latent.dim, cfg.data)
    mode = CONDITIONINGS.lookup("class")(groups, load_dataset(cfg.data, "train").info)
    G, D = mode.build()
    assert G.encoder.num_embeddings == 10 and not hasattr(mode, "cfg")


def test_class_conditioning_on_2d_points(tmp_path: Path) -> None:
    trainer = Trainer(
        compose_train(
            "data=ring8",
            "model=mlp",
            "model.width=16",
            "data.num_points=500",
            "train.batch_size=32",
            "conditioning=class",
            "conditioning.g=concat",
            "conditioning.d=concat",
        ),
        tmp_path,
    )
    assert finite(trainer.train_step(measure=True))


def test_the_label_changes_the_generated_image(tmp_path: Path) -> None:
    """G(z, y) must depend on y: after a little training, the same z with two labels gives two
    different images."""
    trainer = Trainer(compose_train(*TINY, "conditioning=class", "conditioning.g=cbn"), tmp_path)
    for _ in range(3):
        trainer.train_step(measure=False)
    G = trainer.gan.G.eval()
    z = torch.randn(1, 100).repeat(2, 1)
    with torch.no_grad():
        a, b = G(z, torch.tensor([3, 7]))
    assert (a - b).abs().max() > 1e-4


@pytest.mark.parametrize("d", ["concat", "projection", "acgan"])
def test_text_conditioning_trains_with_each_d_method(d: str, tmp_path: Path) -> None:
    trainer = Trainer(compose_train(*TINY, "conditioning=text", f"conditioning.d={d}"), tmp_path)
    assert finite(trainer.train_step(measure=True))


def test_text_batches_carry_captions_of_the_right_class_and_mismatched_images(
    tmp_path: Path,
) -> None:
    trainer = Trainer(compose_train(*TINY, "conditioning=text"), tmp_path)
    cond = trainer.conditioning
    data = trainer.data
    gen = torch.Generator().manual_seed(0)
    idx = data.indices(256, torch.Generator().manual_seed(0))
    batch = cond.draw(data, 256, gen)
    # Each caption is one of its image's class captions.
    for tokens, label in zip(batch.c[:20], batch.y[:20], strict=True):
        assert cond.captions.decode(tokens) in cond.captions.captions(int(label))
    # Mismatched partners: real images of another class.
    other = cond.mismatched(idx, torch.Generator().manual_seed(1))
    assert bool((data.y[other] != data.y[idx]).all())
    assert batch.wrong is not None and batch.wrong.shape == batch.x.shape


def test_d_is_shown_real_images_with_wrong_captions_as_negatives(tmp_path: Path) -> None:
    """GAN-INT-CLS: D's loss is L(real, fake) and L(real, mismatched real), weighted
    (1 - w) and w; the second call's "fake" batch is the batch's `wrong` images."""
    trainer = Trainer(
        compose_train(*TINY, "conditioning=text", "conditioning.mismatch=0.5"), tmp_path
    )
    calls: list[tuple[torch.Tensor, torch.Tensor]] = []
    original = trainer.loss.discriminator_step

    def spy(D, real, fake) -> DiscriminatorStep:
        calls.append((real, fake))
        return original(D, real, fake)

    trainer.loss.discriminator_step = spy
    batch = trainer.conditioning.draw(trainer.data, 16, torch.Generator().manual_seed(0))
    fake = torch.zeros_like(batch.x)
    trainer.critic.condition = batch.c
    step = trainer.conditioning.discriminator_step(trainer.loss, trainer.critic, batch, fake)
    assert len(calls) == 2
    assert calls[0][1] is fake and calls[1][1] is batch.wrong
    assert torch.equal(calls[0][0], batch.x) and torch.equal(calls[1][0], batch.x)
    first = original(trainer.critic, batch.x, fake).loss
    second = original(trainer.critic, batch.x, batch.wrong).loss
    assert step.loss.item() == pytest.approx(0.5 * first.item() + 0.5 * second.item(), rel=1e-4)


def test_class_conditioning_has_no_mismatch_term_by_default(tmp_path: Path) -> None:
    trainer = Trainer(compose_train(*TINY, "conditioning=class"), tmp_path)
    batch = trainer.conditioning.draw(trainer.data, 8, torch.Generator().manual_seed(0))
    assert batch.wrong is None and batch.y is not None and torch.equal(batch.c, batch.y)


@pytest.mark.parametrize(
    "task, extra", [("inpaint", []), ("superres", []), ("edges", []), ("inpaint", ["loss=rpgan"])]
)  # G's step sees targets
def test_image_conditioning_trains_on_each_task(
    task: str, extra: list[str], tmp_path: Path
) -> None:
    trainer = Trainer(
        compose_train(
            *TINY, "data.resolution=16", "conditioning=image", f"conditioning.task={task}", *extra
        ),
        tmp_path,
    )
    assert finite(trainer.train_step(measure=True))


@pytest.mark.parametrize("task", ["colorize", "edges"])
def test_grey_input_tasks_build_their_constants_once_per_device(
    task: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A tensor made from Python numbers on a GPU is a host→device copy each batch would wait
    for: the luma weights and Sobel kernels are built on the first batch only."""
    first = make_inputs(task, torch.rand(2, 3, 8, 8) * 2 - 1)
    built = []
    make = torch.tensor
    monkeypatch.setattr(torch, "tensor", lambda *a, **k: built.append(a) or make(*a, **k))
    targets = torch.rand(2, 3, 8, 8) * 2 - 1
    with torch.inference_mode():
        again = make_inputs(task, targets)
    assert built == [] and again.shape == first.shape == (2, 1, 8, 8)
    assert torch.allclose(again, make_inputs(task, targets.requires_grad_()).detach())


def test_pix2pix_generator_loss_is_adv_plus_weighted_l1(tmp_path: Path) -> None:
    cfg = compose_train(
        *TINY,
        "data.resolution=16",
        "conditioning=image",
        "conditioning.l1_weight=7",
        "conditioning.adv_weight=0",
    )
    trainer = Trainer(cfg, tmp_path)
    batch = trainer.conditioning.draw(trainer.data, 8, torch.Generator().manual_seed(0))
    fake = torch.zeros_like(batch.x)
    trainer.critic.condition = batch.c
    got = trainer.conditioning.generator_loss(trainer.loss, trainer.critic, batch, fake)
    assert got.item() == pytest.approx(7 * batch.x.abs().mean().item(), rel=1e-5)
    # With the adversarial term, G's loss adds the GAN loss of those fakes.
    trainer.cfg.conditioning.adv_weight = 1.0
    both = trainer.conditioning.generator_loss(trainer.loss, trainer.critic, batch, fake)
    adv = trainer.loss.generator(trainer.critic, fake)
    assert both.item() == pytest.approx(got.item() + adv.item(), rel=1e-4)


def test_d_judges_input_output_pairs(tmp_path: Path) -> None:
    """The PatchGAN sees the input beside the output: the same output scores differently with
    another input."""
    trainer = Trainer(compose_train(*TINY, "data.resolution=16", "conditioning=image"), tmp_path)
    batch = trainer.conditioning.draw(trainer.data, 4, torch.Generator().manual_seed(0))
    D = trainer.gan.D.eval()
    with torch.no_grad():
        assert not torch.allclose(D(batch.x, batch.c), D(batch.x, batch.c.flip(0)))


# -- bad combinations fail with one line ---------------------------------------------------------


@pytest.mark.parametrize(
    "overrides, message",
    [
        (["conditioning=class", "conditioning.g=cbn", "model=mlp"], "conditioning.g=concat"),
        (["conditioning=class", "conditioning.d=film"], "choose one of: concat, projection, acgan"),
        (["conditioning=class", "train.pack=2"], "train.pack=1"),
        (["conditioning=image", "model=dcgan"], "model=pix2pix"),
        (["conditioning=image", "conditioning.task=colorize"], "colour"),
        (["conditioning=image", "conditioning.task=deblur"], "choose one of"),
        (["conditioning=image", "augment=diffaug"], "augment=none"),
    ],
)
def test_impossible_combinations_are_refused(
    overrides: list[str], message: str, tmp_path: Path
) -> None:
    with pytest.raises(GancliError, match=message):
        Trainer(compose_train(*TINY, "data.resolution=16", *overrides), tmp_path)


def test_class_conditioning_needs_labels(tmp_path: Path) -> None:
    folder = tmp_path / "flat"
    folder.mkdir()
    for i in range(12):
        Image.fromarray(np.full((8, 8, 3), i * 10, np.uint8)).save(folder / f"{i}.png")
    with pytest.raises(GancliError, match="labelled data"):
        Trainer(
            compose_train(*TINY, "data=folder", f"data.root={folder}", "conditioning=class"),
            tmp_path / "run",
        )


# -- the run folder and the sample command -------------------------------------------------------


@pytest.fixture(scope="module")
def class_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    cwd = tmp_path_factory.mktemp("class")
    return Path(last_line(run_cli("train", *TINY, "conditioning=class", cwd=cwd).stdout))


@pytest.fixture(scope="module")
def text_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    cwd = tmp_path_factory.mktemp("text")
    return Path(last_line(run_cli("train", *TINY, "conditioning=text", cwd=cwd).stdout))


@pytest.fixture(scope="module")
def image_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    cwd = tmp_path_factory.mktemp("image")
    return Path(
        last_line(
            run_cli(
                "train", *TINY, "data.resolution=16", "model.width=8", "conditioning=image", cwd=cwd
            ).stdout
        )
    )


def _sample(run: Path, cwd: Path, *args: str) -> Path:
    """`gancli sample ckpt=run *args`, in-process (the command's own body, without the ~4 s
    start of a new interpreter; the CLI itself is exercised by the error tests below)."""
    from omegaconf import OmegaConf

    from gancli.config import SampleAppConfig
    from gancli.sampling import run_sample

    cfg = OmegaConf.merge(
        OmegaConf.structured(SampleAppConfig), OmegaConf.from_dotlist([f"ckpt={run}", *args])
    )
    return run_sample(cfg, Path(cfg.out or cwd / "samples.png"))


def test_preview_grid_has_one_row_per_class(class_run: Path) -> None:
    grid = Image.open(class_run / "samples" / "final.png")
    # 64 previews over 10 classes: 6 per class, 6 per row, 10 rows of 64-pixel cells.
    assert grid.size == (6 * 66 + 2, 10 * 66 + 2)


def test_sample_one_label_saves_labels_and_is_deterministic(
    class_run: Path, tmp_path: Path
) -> None:
    a = np.load(_sample(class_run, tmp_path, "label=7", "n=5", f"out={tmp_path / 'a.npz'}"))
    b = np.load(_sample(class_run, tmp_path, "label=7", "n=5", f"out={tmp_path / 'b.npz'}"))
    assert a["images"].shape == (5, 8, 8, 1) and a["labels"].tolist() == [7] * 5
    assert np.array_equal(a["images"], b["images"])
    c = np.load(_sample(class_run, tmp_path, "label=2", "n=5", f"out={tmp_path / 'c.npz'}"))
    assert not np.array_equal(a["images"], c["images"])  # same z, another label


def test_sample_label_list_draws_a_row_per_label(class_run: Path, tmp_path: Path) -> None:
    npz = np.load(
        _sample(class_run, tmp_path, "labels=[0,1,2]", "n=4", f"out={tmp_path / 's.npz'}")
    )
    assert npz["labels"].tolist() == [0] * 4 + [1] * 4 + [2] * 4
    grid = Image.open(
        _sample(class_run, tmp_path, "labels=[0,1,2]", "n=4", f"out={tmp_path / 's.png'}")
    )
    assert grid.size == (4 * 66 + 2, 3 * 66 + 2)


@pytest.mark.parametrize(
    "args, message",
    [
        (["label=10"], "use 0 to 9"),
        (["prompt=seven"], "label=K"),
        (["label=1", "labels=[2]"], "not both"),
        (["labels=[]"], "empty"),
    ],
)
def test_bad_sample_requests_are_refused(
    class_run: Path, tmp_path: Path, args: list[str], message: str
) -> None:
    with pytest.raises(GancliError, match=message):
        _sample(class_run, tmp_path, *args)


@pytest.mark.parametrize(
    "mode, key, usage",
    [
        ("none", "label", "it draws unconditional samples, so give none"),
        ("class", "prompt", "use label=K or labels=[...]"),
        ("text", "labels", 'use prompt="a caption"'),
        ("image", "label", "use input=IMAGE_OR_FOLDER"),
    ],
)
def test_each_mode_refuses_the_sample_keys_of_the_others_in_one_format(
    mode: str, key: str, usage: str
) -> None:
    import re

    from omegaconf import OmegaConf

    cfg = compose_train(*TINY, "data.resolution=16", f"conditioning={mode}")
    conditioning = build_conditioning(cfg, load_dataset(cfg.data, "train").info)
    line = f"{key}= does not apply to a checkpoint trained with conditioning={mode}: {usage}"
    with pytest.raises(GancliError, match=f"^{re.escape(line)}$"):
        conditioning.request(OmegaConf.create({key: "1"}), 4)


def test_a_bad_label_fails_with_one_line_from_the_cli(class_run: Path, tmp_path: Path) -> None:
    proc = run_cli("sample", f"ckpt={class_run}", "label=10", cwd=tmp_path, check=False)
    assert proc.returncode == 1 and "use 0 to 9" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_label_for_an_unconditional_checkpoint_fails(tiny_run: Path, tmp_path: Path) -> None:
    proc = run_cli("sample", f"ckpt={tiny_run}", "label=3", cwd=tmp_path, check=False)
    assert proc.returncode == 1 and "conditioning=none" in proc.stderr


def test_prompt_sampling_and_unknown_words(text_run: Path, tmp_path: Path) -> None:
    a = np.load(
        _sample(
            text_run, tmp_path, "prompt=a handwritten seven", "n=3", f"out={tmp_path / 'a.npz'}"
        )
    )
    b = np.load(
        _sample(
            text_run, tmp_path, "prompt=a handwritten seven", "n=3", f"out={tmp_path / 'b.npz'}"
        )
    )
    assert a["images"].shape == (3, 8, 8, 1) and np.array_equal(a["images"], b["images"])
    proc = run_cli(
        "sample", f"ckpt={text_run}", "prompt=a handwritten sevn", cwd=tmp_path, check=False
    )
    assert proc.returncode == 1
    assert "unknown word 'sevn'" in proc.stderr and "seven" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_text_default_grid_is_reproducible(text_run: Path, tmp_path: Path) -> None:
    a = np.load(_sample(text_run, tmp_path, "n=20", f"out={tmp_path / 'a.npz'}"))["images"]
    b = np.load(_sample(text_run, tmp_path, "n=20", f"out={tmp_path / 'b.npz'}"))["images"]
    assert a.shape == (20, 8, 8, 1) and np.array_equal(a, b)


def test_interpolation_keeps_one_label_per_row(
    class_run: Path, image_run: Path, tmp_path: Path
) -> None:
    npz = np.load(
        _sample(
            class_run,
            tmp_path,
            "labels=[3,5]",
            "sample.interpolate=true",
            "sample.steps=4",
            f"out={tmp_path / 'i.npz'}",
        )
    )
    assert npz["labels"].tolist() == [3] * 4 + [5] * 4 and len(npz["images"]) == 8
    with pytest.raises(GancliError, match="sample.interpolate"):
        _sample(image_run, tmp_path, "sample.interpolate=true")


def test_text_checkpoint_keeps_its_vocabulary(text_run: Path) -> None:
    ckpt = torch.load(text_run / "checkpoints" / "last.pt", weights_only=True)
    words = ckpt["conditioning"]["captions"]["words"]
    assert "seven" in words and "handwritten" in words


def test_image_sample_default_grid_is_input_output_target(image_run: Path, tmp_path: Path) -> None:
    grid = Image.open(_sample(image_run, tmp_path, "n=4", f"out={tmp_path / 'g.png'}"))
    assert grid.size == (3 * 66 + 2, 4 * 66 + 2)  # 16-pixel images shown at 64


def test_image_sample_translates_given_files(image_run: Path, tmp_path: Path) -> None:
    inputs = tmp_path / "in"
    inputs.mkdir()
    for i in range(3):
        Image.fromarray(np.full((20, 20, 3), 40 * i, np.uint8)).save(inputs / f"{i}.png")
    out = _sample(image_run, tmp_path, f"input={inputs}", f"out={tmp_path / 'o.npz'}")
    assert np.load(out)["images"].shape == (3, 16, 16, 1)
    one = _sample(image_run, tmp_path, f"input={inputs / '1.png'}", f"out={tmp_path / 'x'}")
    assert sorted(p.name for p in one.iterdir()) == ["000000.png"]
    with pytest.raises(GancliError, match="does not exist"):
        _sample(image_run, tmp_path, f"input={tmp_path / 'nope.png'}")


# -- evaluation ------------------------------------------------------------------------------


def test_eval_of_a_class_conditional_checkpoint(class_run: Path, tmp_path: Path) -> None:
    out = last_line(
        run_cli(
            "eval",
            f"ckpt={class_run}",
            "eval.n=500",
            "eval.metrics=[match,intra_fid,cas,fid]",
            cwd=tmp_path,
        ).stdout
    )
    result = json.loads(Path(out).read_text())
    assert {"match_accuracy", "intra_fid", "cas", "fid"} <= set(result)
    # 500 samples asked for every class equally often: 50 of each, so every class is scored.
    assert result["n_samples"] == 500 and result["intra_fid_classes"] == 10


def test_eval_of_a_text_checkpoint_reports_unseen_phrasings(text_run: Path, tmp_path: Path) -> None:
    out = last_line(
        run_cli(
            "eval", f"ckpt={text_run}", "eval.n=200", "eval.metrics=[match,fid]", cwd=tmp_path
        ).stdout
    )
    result = json.loads(Path(out).read_text())
    assert {"match_accuracy_seen", "match_accuracy_unseen", "fid"} <= set(result)
    # Training and held-out phrasings alternate, 100 of each: the whole is their mean.
    assert result["match_accuracy"] == pytest.approx(
        (result["match_accuracy_seen"] + result["match_accuracy_unseen"]) / 2
    )


class RealImagesOf(nn.Module):
    """A perfect conditional "generator": G(z, c) is a real test image of the class that `c`
    asks for (a label, or the class whose caption it is) plus `shift`; z picks which image."""

    def __init__(
        self, test: TensorData, class_of: Callable[[torch.Tensor], torch.Tensor], shift: int
    ) -> None:
        super().__init__()
        self.by_class = [test.spread(len(test))[test.y == k] for k in range(10)]
        self.class_of, self.shift = class_of, shift

    def forward(self, z: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        pick = (z[:, 0].abs() * 1e4).long()
        return torch.stack(
            [
                self.by_class[k][i % len(self.by_class[k])]
                for k, i in zip(
                    ((self.class_of(c) + self.shift) % 10).tolist(), pick.tolist(), strict=True
                )
            ]
        )


@pytest.mark.parametrize("mode", ["class", "text"])
def test_conditional_eval_scores_images_of_the_asked_class(mode: str, digits_split: tuple) -> None:
    """Evaluation through each mode's eval request, of a generator drawing real images of the
    class asked for: match accuracy is the classifier's accuracy on exactly those images (on
    training and held-out phrasings alike), and intra-FID is far lower than for a generator
    drawing the next class, which matches almost never."""
    from omegaconf import OmegaConf

    from gancli.config import EvalOptions
    from gancli.evaluation.evaluate import Evaluator
    from gancli.sampling import ScoreDraw, generate_scored

    train, test, data_cfg = digits_split
    cfg = compose_train(*TINY, f"conditioning={mode}")
    cond = build_conditioning(cfg, train.info)
    if mode == "text":  # the class each caption (training or held-out) was made for
        bank = cond.captions
        owner = {
            tuple(row): k
            for k in range(10)
            for table in (bank.table, bank.held)
            for row in table[k].tolist()
        }

        def class_of(c: torch.Tensor) -> torch.Tensor:
            return torch.tensor([owner[tuple(row)] for row in c.tolist()])
    else:

        def class_of(c: torch.Tensor) -> torch.Tensor:
            return c

    opts = OmegaConf.merge(OmegaConf.structured(EvalOptions), {"metrics": ["match", "intra_fid"]})
    evaluator = Evaluator(opts, data_cfg, train.info, CPU, cond.evaluates)
    model, _, _ = load_classifier(data_cfg, CPU)
    draw = ScoreDraw(500, 0, cfg.latent, CPU, 100)
    generated = {
        shift: generate_scored(RealImagesOf(test, class_of, shift), cond, draw) for shift in (0, 1)
    }
    scores = {shift: g.score(evaluator) for shift, g in generated.items()}
    labels = generated[0].labels
    assert labels.tolist() == [i % 10 for i in range(500)]
    with torch.no_grad():
        logits = model(generated[0].samples.float() / 127.5 - 1)[1]
    right = scores[0]["match_accuracy"]
    assert right == pytest.approx(conditional.match_accuracy(logits, labels)["match_accuracy"])
    assert right > 0.9
    assert scores[1]["match_accuracy"] < 0.1
    assert scores[0]["intra_fid_classes"] == 10
    assert scores[0]["intra_fid"] * 5 < scores[1]["intra_fid"]
    if mode == "text":
        assert scores[0]["match_accuracy_seen"] > 0.9 and scores[0]["match_accuracy_unseen"] > 0.9


def test_eval_of_an_image_checkpoint_scores_translation(image_run: Path, tmp_path: Path) -> None:
    out = last_line(run_cli("eval", f"ckpt={image_run}", cwd=tmp_path).stdout)
    result = json.loads(Path(out).read_text())
    assert {"l1", "psnr", "ssim", "fid"} <= set(result)
    assert result["n_samples"] == len(
        load_dataset(compose_train(*TINY, "data.resolution=16").data, "test")
    )


def test_conditional_metrics_refused_for_unconditional_samples() -> None:
    from omegaconf import OmegaConf

    from gancli.config import EvalOptions
    from gancli.evaluation.evaluate import Evaluator

    cfg = compose_train(*TINY)
    info = load_dataset(cfg.data, "train").info
    for metric, condition, needs in (
        ("match", "none", "class- or text-conditional"),
        ("translation", "labels", "image-to-image"),
    ):
        opts = OmegaConf.merge(OmegaConf.structured(EvalOptions), {"metrics": [metric]})
        with pytest.raises(GancliError, match=needs):
            Evaluator(opts, cfg.data, info, CPU, condition)


@pytest.fixture(scope="module")
def digits_split() -> tuple:
    cfg = compose_train(*TINY).data
    return load_dataset(cfg, "train"), load_dataset(cfg, "test"), cfg


def test_match_accuracy_is_high_for_right_labels_and_chance_for_wrong(digits_split: tuple) -> None:
    _, test, cfg = digits_split
    model, acc, _ = load_classifier(cfg, CPU)
    with torch.no_grad():
        logits = model(test.pixels().float() / 127.5 - 1)[1]
    right = conditional.match_accuracy(logits, test.y)["match_accuracy"]
    wrong = conditional.match_accuracy(logits, (test.y + 1) % 10)["match_accuracy"]
    assert right == pytest.approx(acc) and right > 0.95 and wrong < 0.05


def test_intra_fid_separates_right_from_wrong_classes(digits_split: tuple) -> None:
    train, test, cfg = digits_split
    model, _, _ = load_classifier(cfg, CPU)
    with torch.no_grad():
        real = Features(*model(train.pixels().float() / 127.5 - 1))
        fake = Features(*model(test.pixels().float() / 127.5 - 1))
    same = conditional.intra_fid(real, train.y, fake, test.y)
    swapped = conditional.intra_fid(real, train.y, fake, (test.y + 1) % 10)
    assert same["intra_fid_classes"] == 10
    assert same["intra_fid"] * 5 < swapped["intra_fid"]


@pytest.mark.slow  # two classifiers trained on the digits: 39 s of `make test`'s 5 minutes
def test_cas_is_high_for_real_labelled_images_and_chance_for_shuffled(digits_split: tuple) -> None:
    train, test, _ = digits_split
    pixels = train.pixels()
    before = torch.random.get_rng_state()
    good = conditional.classification_accuracy_score(pixels, train.y, test, CPU)["cas"]
    assert torch.equal(torch.random.get_rng_state(), before)  # training's stream untouched
    shuffled = train.y[torch.randperm(len(train.y), generator=torch.Generator().manual_seed(0))]
    bad = conditional.classification_accuracy_score(pixels, shuffled, test, CPU)["cas"]
    assert good > 0.95 and bad < 0.3


def test_unseen_phrasings_use_held_out_captions(tmp_path: Path) -> None:
    cfg = compose_train(*TINY, "conditioning=text")
    cond = build_conditioning(cfg, load_dataset(cfg.data, "train").info)
    req = cond.eval_request(20, torch.Generator().manual_seed(0))
    assert req.unseen.tolist() == [i % 2 == 1 for i in range(20)]
    for tokens, label, unseen in zip(req.c, req.labels, req.unseen, strict=True):
        text = cond.captions.decode(tokens)
        pool = (cond.captions.held_out_captions if unseen else cond.captions.captions)(int(label))
        assert text in pool


def _image_tree(root: Path, classes: list[str], per_class: int = 10) -> list[str]:
    """Small RGB images, a sub-folder per class; returns their paths relative to `root`."""
    names = []
    for k, cls in enumerate(classes):
        (root / cls).mkdir(parents=True)
        for i in range(per_class):
            pixels = np.full((8, 8, 3), 30 + 100 * k + i, np.uint8)
            Image.fromarray(pixels).save(root / cls / f"{i}.png")
            names.append(f"{cls}/{i}.png")
    return names


def test_class_conditioning_on_a_folder_with_a_subfolder_per_class(tmp_path: Path) -> None:
    root = tmp_path / "data"
    _image_tree(root, ["cats", "dogs"])
    trainer = Trainer(
        compose_train(*TINY, "data=folder", f"data.root={root}", "conditioning=class"),
        tmp_path / "run",
    )
    assert trainer.info.num_classes == 2 and finite(trainer.train_step(measure=True))


def test_text_conditioning_on_folder_captions_trains_and_samples(tmp_path: Path) -> None:
    root = tmp_path / "data"
    names = _image_tree(root, ["cats", "dogs"])
    (root / "captions.tsv").write_text(
        "".join(f"{n}\ta {'dark' if n.startswith('cats') else 'bright'} square\n" for n in names)
    )
    run = Path(
        last_line(
            run_cli(
                "train",
                *TINY,
                "data=folder",
                f"data.root={root}",
                "conditioning=text",
                cwd=tmp_path,
            ).stdout
        )
    )
    out = _sample(run, tmp_path, "prompt=a bright square", "n=2", f"out={tmp_path / 's.npz'}")
    assert np.load(out)["images"].shape == (2, 8, 8, 3)
    with pytest.raises(GancliError, match="unknown word 'red'"):
        _sample(run, tmp_path, "prompt=a red square")


def test_a_missing_caption_is_named(tmp_path: Path) -> None:
    root = tmp_path / "data"
    names = _image_tree(root, ["cats"], per_class=12)
    (root / "captions.tsv").write_text("".join(f"{n}\ta cat\n" for n in names[1:]))
    with pytest.raises(GancliError, match="cats/0.png"):
        Trainer(
            compose_train(*TINY, "data=folder", f"data.root={root}", "conditioning=text"),
            tmp_path / "run",
        )


def test_many_classes_preview_shows_one_sample_of_each_of_the_first_classes() -> None:
    from gancli.data import DataInfo

    cond = build_conditioning(
        compose_train("conditioning=class"), DataInfo("stacked_mnist", "image", (3, 32, 32), 1000)
    )
    req = cond.preview(64)
    assert req.labels.tolist() == list(range(64)) and req.nrow == 8


def test_conditional_runs_resume_and_evaluate_during_training(tmp_path: Path) -> None:
    run = Path(
        last_line(
            run_cli(
                "train",
                *TINY,
                "conditioning=text",
                "train.eval_every=10",
                "eval.metrics=[match]",
                "eval.n=100",
                cwd=tmp_path,
            ).stdout
        )
    )
    lines = [json.loads(ln) for ln in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in lines if "match_accuracy_unseen" in r] == [10, 20]
    assert (run / "checkpoints" / "best.pt").is_file()
    resumed = Path(
        last_line(run_cli("train", f"resume={run}", "train.steps=25", cwd=tmp_path).stdout)
    )
    ckpt = torch.load(resumed / "checkpoints" / "last.pt", weights_only=True)
    assert ckpt["step"] == 25 and "seven" in ckpt["conditioning"]["captions"]["words"]


def test_pretrained_text_encoder_weights_are_loaded_or_refused(tmp_path: Path) -> None:
    from gancli.models.text_encoder import TextEncoder

    cfg = compose_train(*TINY, "conditioning=text", "conditioning.embed_dim=16")
    cond = build_conditioning(cfg, load_dataset(cfg.data, "train").info)
    weights = TextEncoder(len(cond.vocab), 16).state_dict()
    torch.save(weights, tmp_path / "enc.pt")
    trainer = Trainer(
        compose_train(
            *TINY,
            "conditioning=text",
            "conditioning.embed_dim=16",
            f"conditioning.text_encoder={tmp_path / 'enc.pt'}",
        ),
        tmp_path / "run",
    )
    loaded = trainer.gan.G.encoder.state_dict()
    assert all(torch.equal(loaded[k], v) for k, v in weights.items())
    torch.save(TextEncoder(len(cond.vocab) + 5, 16).state_dict(), tmp_path / "other.pt")
    with pytest.raises(GancliError, match="does not fit this vocabulary"):
        Trainer(
            compose_train(
                *TINY,
                "conditioning=text",
                "conditioning.embed_dim=16",
                f"conditioning.text_encoder={tmp_path / 'other.pt'}",
            ),
            tmp_path / "run2",
        )


def test_pix2pix_trains_on_a_paired_folder(tmp_path: Path) -> None:
    root = tmp_path / "pairs"
    for side in ("input", "target"):
        (root / side).mkdir(parents=True)
    for i in range(12):
        Image.fromarray(np.full((16, 16, 3), 10 * i, np.uint8)).save(root / "input" / f"{i}.png")
        Image.fromarray(np.full((16, 16, 3), 200 - 10 * i, np.uint8)).save(
            root / "target" / f"{i}.png"
        )
    trainer = Trainer(
        compose_train(
            *TINY,
            "data=paired_folder",
            f"data.root={root}",
            "data.resolution=16",
            "conditioning=image",
            "train.batch_size=8",
        ),
        tmp_path / "run",
    )
    batch = trainer.conditioning.draw(trainer.data, 8, torch.Generator().manual_seed(0))
    # Each input is its own target's partner: 10·i in, 200 - 10·i out (in [-1, 1] units).
    got_in = (batch.c.mean((1, 2, 3)) + 1) * 127.5
    got_out = (batch.x.mean((1, 2, 3)) + 1) * 127.5
    assert torch.allclose(got_in + got_out, torch.full((8,), 200.0), atol=1.0)
    assert finite(trainer.train_step(measure=True))
    # Evaluation of paired data (no classes: its `y` holds the inputs) scores the translation.
    from omegaconf import OmegaConf

    from gancli.config import EvalOptions
    from gancli.evaluation.evaluate import Evaluator
    from gancli.sampling import ScoreDraw, generate_scored

    opts = OmegaConf.merge(OmegaConf.structured(EvalOptions), {"metrics": ["translation"]})
    generated = generate_scored(
        trainer.gan.sampler, trainer.conditioning, ScoreDraw(100, 0, trainer.cfg.latent, CPU, 50)
    )
    result = generated.score(Evaluator(opts, trainer.cfg.data, trainer.info, CPU, "pairs"))
    assert result["n_samples"] == 1 and 0 <= result["l1"] <= 2  # 12 pairs: 1 in the test split
