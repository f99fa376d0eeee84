"""The fast path's switches (`train.precision`, `train.channels_last`, `train.compile`): each
trains with finite losses on the CPU, fails clearly where it cannot apply, and falls back where
the platform lacks support."""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

import pytest
import torch
from torch import nn

from gancli.commands import hydra_seam
from gancli.conditioning.tasks import make_inputs
from gancli.errors import GancliError
from gancli.losses.base import input_gradient
from gancli.training import fast, precision
from gancli.training.loop import Trainer
from tests.conftest import TINY, compose_train, last_line, run_cli

#: TINY without its pinned fp32 and contiguous layout: the defaults, `auto` both.
AUTO = [a for a in TINY if not a.startswith(("train.precision=", "train.channels_last="))]


def finite(stats: dict) -> bool:
    return all(bool(torch.isfinite(stats[k])) for k in ("loss_d", "loss_g", "divergence"))


@pytest.mark.parametrize("loss", ["ns", "wgan-gp", "hinge"])
def test_bf16_autocast_trains_on_the_cpu(loss: str, tmp_path: Path) -> None:
    trainer = Trainer(
        compose_train(*TINY, "train.precision=bf16", f"loss={loss}", "loss.r1_gamma=1"), tmp_path
    )
    for _ in range(3):
        stats = trainer.train_step(measure=True)
    assert finite(stats) and stats["loss_d"].dtype == torch.float32
    # The weights stay fp32 (autocast changes the arithmetic, not the parameters).
    assert all(p.dtype == torch.float32 for p in trainer.gan.G.parameters())


def test_bf16_forward_is_really_bf16(tmp_path: Path) -> None:
    trainer = Trainer(compose_train(*TINY, "train.precision=bf16"), tmp_path)
    z = torch.randn(4, 100)
    with trainer.precision.autocast():
        assert trainer.gan.G(z).dtype == torch.bfloat16


def test_gradient_penalty_is_computed_in_fp32_under_autocast() -> None:
    D = nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 1), nn.Flatten(0))
    x = torch.randn(16, 2)
    exact = input_gradient(D, x)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        under = input_gradient(D, x)
    assert under.dtype == torch.float32 and torch.allclose(under, exact)


@pytest.mark.parametrize(
    "flags, expected",
    [
        ({"_is_amx_tile_supported": True, "_is_avx512_bf16_supported": True}, ("bf16", "AMX")),
        (
            {"_is_amx_tile_supported": False, "_is_avx512_bf16_supported": True},
            ("bf16", "AVX512-BF16"),
        ),
        (
            {"_is_amx_tile_supported": False, "_is_avx512_bf16_supported": False},
            ("fp32", "emulated"),
        ),
    ],
)
def test_auto_precision_is_bf16_where_the_cpu_computes_it(
    flags: dict[str, bool], expected: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in flags.items():
        monkeypatch.setattr(torch.cpu, name, lambda value=value: value)
    name, how = precision.choose_precision("auto", torch.device("cpu"))
    assert name == expected[0] and expected[1] in how and how.startswith("auto: ")
    # 2D points stay fp32 whatever the CPU: bf16 cannot tell ring8's modes apart.
    assert precision.choose_precision("auto", torch.device("cpu"), reduced_ok=False)[0] == "fp32"


def test_auto_precision_without_torchs_cpu_checks_is_fp32(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("_is_amx_tile_supported", "_is_avx512_bf16_supported"):
        monkeypatch.delattr(torch.cpu, name, raising=False)
    assert precision.choose_precision("auto", torch.device("cpu"))[0] == "fp32"


@pytest.mark.parametrize(
    "seconds, chosen",
    [({"bf16": 0.002, "fp32": 0.008}, "bf16"), ({"bf16": 0.008, "fp32": 0.002}, "fp32")],
)
def test_auto_precision_on_a_gpu_takes_bf16_only_where_it_measures_faster(
    seconds: dict[str, float], chosen: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A small model on a GPU is bound by kernel launches, which autocast adds to: bf16 only
    where it is faster. ("meta" stands in for the GPU: nothing it runs waits.)"""
    monkeypatch.setattr(precision, "native_bf16", lambda device: "a bf16 GPU")
    name, how = precision.choose_precision("auto", torch.device("meta"), True, sleeper(seconds))
    assert name == chosen and how.startswith(
        f"auto: {chosen} (bf16 native on a bf16 GPU; measured "
    )


def test_an_unknown_precision_names_auto_among_the_choices(tmp_path: Path) -> None:
    with pytest.raises(GancliError, match=r"'bf32'; choose one of: auto, fp32, bf16, fp16"):
        Trainer(compose_train(*TINY, "train.precision=bf32"), tmp_path)


def sleeper(seconds: dict):
    """A probe factory whose calls take `seconds[its argument]`."""
    import time

    return lambda layout: lambda: time.sleep(seconds[layout])


@pytest.mark.parametrize(
    "seconds, on",
    [
        ({True: 0.002, False: 0.008}, True),
        ({True: 0.008, False: 0.002}, False),
        ({True: 0.004, False: 0.004}, False),
    ],
)
def test_auto_layout_takes_channels_last_only_where_it_measures_faster(
    seconds: dict[bool, float], on: bool
) -> None:
    choice = fast.choose_layout("auto", True, torch.device("cpu"), sleeper(seconds))
    assert choice.on is on and choice.how.startswith(f"auto: {'on' if on else 'off'} (measured")
    assert choice.record() == {"channels_last": on, "channels_last_choice": choice.how}


@pytest.mark.parametrize(
    "setting, has_layout, on",
    [("True", True, True), ("false", True, False), ("auto", False, False), ("true", False, False)],
)
def test_a_given_layout_is_taken_and_points_have_none(
    setting: str, has_layout: bool, on: bool
) -> None:
    def never(layout: bool):
        raise AssertionError("nothing is measured")

    assert fast.choose_layout(setting, has_layout, torch.device("cpu"), never).on is on


def test_the_defaults_record_their_fast_path_choice(tmp_path: Path) -> None:
    """`auto` both: the choice, how it was made and the reason are in metrics.jsonl's first
    line; the precision follows the CPU's instructions, the layout what was measured."""
    run = Path(last_line(run_cli("train", *AUTO, "train.steps=2", cwd=tmp_path).stdout))
    first = json.loads((run / "metrics.jsonl").read_text().splitlines()[0])
    native = precision.native_bf16(torch.device("cpu"))
    assert first["precision"] == ("fp32" if native is None else "bf16")
    assert first["precision_choice"].startswith(f"auto: {first['precision']} (")
    assert isinstance(first["channels_last"], bool)
    assert first["channels_last_choice"].startswith(
        f"auto: {'on' if first['channels_last'] else 'off'} (measured "
    )


def test_points_train_in_fp32_without_a_layout(tmp_path: Path) -> None:
    trainer = Trainer(
        compose_train(
            "data=ring8", "model=mlp", "model.width=16", "train.device=cpu", "train.batch_size=32"
        ),
        tmp_path,
    )
    assert (trainer.precision.name, trainer.layout.on) == ("fp32", False)
    assert "2D points" in trainer.precision.how and "2D points" in trainer.layout.how


def test_cfg_job_says_what_auto_chooses_here(tmp_path: Path) -> None:
    proc = run_cli("train", "--cfg", "job", cwd=tmp_path)
    native = precision.native_bf16(torch.device("cpu"))
    assert (
        f"# train.precision=auto is {'fp32' if native is None else 'bf16'} on this " in proc.stdout
    )
    assert "# train.channels_last=auto is measured at the run's start" in proc.stdout
    assert "precision: auto" in proc.stdout  # the config itself is printed as it was


@pytest.mark.parametrize(
    "args, shown",
    [
        ([], False),
        (["train.steps=2"], False),
        (["--cfg", "job"], True),
        (["-c", "all"], True),
        (["--cfg=job"], True),
        (["--cfg", "hydra"], False),
        (["--cfg"], False),
    ],
)
def test_the_auto_note_follows_only_a_printed_job_config(args: list[str], shown: bool) -> None:
    assert hydra_seam.shown_config(args) is shown


def test_fp16_needs_cuda(tmp_path: Path) -> None:
    if torch.cuda.is_available():
        pytest.skip("CUDA present: fp16 is allowed here")
    with pytest.raises(GancliError, match="train.precision=bf16"):
        Trainer(compose_train(*TINY, "train.precision=fp16"), tmp_path)


def test_channels_last_trains(tmp_path: Path) -> None:
    trainer = Trainer(compose_train(*TINY, "train.channels_last=true"), tmp_path)
    batch = trainer.data.draw(4, trainer.data_rng)[1]
    assert batch.is_contiguous(memory_format=torch.channels_last)
    conv = next(m for m in trainer.gan.D.modules() if isinstance(m, nn.Conv2d))
    assert conv.weight.is_contiguous(memory_format=torch.channels_last)
    assert finite(trainer.train_step(measure=True))


def test_compile_falls_back_with_one_warning_where_unsupported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def unsupported(self, *args, **kwargs):
        raise RuntimeError("torch.compile is not supported on this platform")

    monkeypatch.setattr(nn.Module, "compile", unsupported)
    with caplog.at_level(logging.WARNING, logger="gancli.train"):
        trainer = Trainer(compose_train(*TINY, "train.compile=true"), tmp_path)
    warnings = [r for r in caplog.records if "train.compile" in r.getMessage()]
    assert len(warnings) == 2 and "running it uncompiled" in warnings[0].getMessage()
    assert finite(trainer.train_step(measure=True))


def test_compile_keeps_checkpoint_keys(tmp_path: Path) -> None:
    """Compiled in place: the state dict has the same keys as an uncompiled model's, so runs
    with and without train.compile share checkpoints. (Only wiring: compiling itself is left to
    the first forward, which the test does not run.)"""
    plain = Trainer(compose_train(*TINY), tmp_path / "a").gan.G.state_dict()
    compiled = Trainer(compose_train(*TINY, "train.compile=true"), tmp_path / "b").gan.G
    assert list(compiled.state_dict()) == list(plain)


@pytest.mark.slow
def test_compile_really_compiles_and_trains(tmp_path: Path) -> None:
    """torch.compile with the platform's C++ compiler (about 25 s on a 2-core CPU)."""
    trainer = Trainer(compose_train(*TINY, "train.compile=true"), tmp_path)
    for _ in range(3):
        stats = trainer.train_step(measure=True)
    assert finite(stats)
    assert trainer.gan.G._compiled_call_impl is not None  # nn.Module.compile took effect


def compile_with(monkeypatch: pytest.MonkeyPatch, backend: object) -> None:
    """nn.Module.compile with `backend` instead of inductor, whose C++ compilation takes a
    minute here; dynamo's caches are emptied so that no other test's graphs are reused."""
    compile = nn.Module.compile
    monkeypatch.setattr(
        nn.Module, "compile", lambda self, **kwargs: compile(self, **kwargs, backend=backend)
    )
    torch._dynamo.reset()


@pytest.mark.parametrize("penalty", ["loss=wgan-gp", "loss.r1_gamma=1"])
def test_compile_trains_with_a_gradient_penalty(
    penalty: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """aot_eager compiles through aot_autograd like inductor does, and its backward cannot be
    differentiated again: the penalty's call of D runs eagerly, the others compiled."""
    compile_with(monkeypatch, "aot_eager")
    proc = run_cli("train", *TINY, "train.steps=2", "train.compile=true", penalty, cwd=tmp_path)
    assert re.search(r"compile: [1-9]\d* graphs compiled", proc.stderr)


def test_compile_says_when_nothing_was_compiled(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """suppress_errors turns a failed compilation into an eager run: the log says so."""

    def broken(graph, inputs):
        raise RuntimeError("no C++ compiler")

    compile_with(monkeypatch, broken)
    proc = run_cli("train", *TINY, "train.steps=2", "train.compile=true", cwd=tmp_path)
    assert "compile: nothing compiled (errors suppressed: " in proc.stderr


def test_compile_leaves_a_penalised_d_uncompiled_without_set_stance(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """torch < 2.6 cannot run the penalty's D eagerly inside a compiled run: D stays eager."""
    monkeypatch.delattr(torch.compiler, "set_stance")
    with caplog.at_level(logging.WARNING, logger="gancli.train"):
        trainer = Trainer(compose_train(*TINY, "train.compile=true", "loss=wgan-lp"), tmp_path)
    assert "cannot compile D under a gradient penalty" in caplog.text
    assert trainer.gan.D._compiled_call_impl is None
    assert trainer.gan.G._compiled_call_impl is not None


@pytest.mark.gpu
@pytest.mark.parametrize(
    "extra",
    [
        [],
        ["loss=wgan-gp", "train.n_critic=2"],
        ["loss.r1_gamma=1"],
        ["conditioning=class"],
        ["conditioning=text"],
        ["data.resolution=16", "conditioning=image", "conditioning.task=edges", "augment=none"],
        ["train.precision=fp16", "loss.r1_gamma=1"],
        ["train.precision=bf16", "train.channels_last=true"],
        ["train.precision=auto", "train.channels_last=auto"],
    ],
    ids=["ns", "wgan-gp", "r1", "class", "text", "edges", "fp16-r1", "bf16-nhwc", "auto"],
)
def test_a_training_step_never_waits_for_the_gpu(extra: list[str], tmp_path: Path) -> None:
    """Batches, latents, augmentation, losses, optimizers, gradient scalers and the EMA all stay
    on the device, for every conditioning mode (the text encoder's lengths, the image tasks'
    constants): a step that reads nothing (measure=False) must not synchronise with it."""
    cfg = [a for a in TINY if a != "train.device=cpu"]
    trainer = Trainer(compose_train(*cfg, "train.device=cuda", "augment=diffaug", *extra), tmp_path)
    trainer.train_step(measure=False)  # first-call set-up (allocations, algorithm choice)
    torch.cuda.set_sync_debug_mode("error")
    try:
        for _ in range(2):
            trainer.train_step(measure=False)
    finally:
        torch.cuda.set_sync_debug_mode("default")


@pytest.mark.gpu
@pytest.mark.parametrize("task", ["colorize", "edges"])
def test_image_task_inputs_never_wait_for_the_gpu(task: str) -> None:
    """colorize needs colour data, which the tests have none of on disk: its inputs are made
    from a random colour batch, as each training batch's are."""
    targets = torch.rand(4, 3, 16, 16, device="cuda") * 2 - 1
    make_inputs(task, targets)  # the first batch builds the constants on the device
    torch.cuda.set_sync_debug_mode("error")
    try:
        make_inputs(task, targets)
    finally:
        torch.cuda.set_sync_debug_mode("default")


def test_channels_last_applies_to_the_ema_copy(tmp_path: Path) -> None:
    """The EMA copy is made before G is converted: it must be converted too, or every update
    mixes layouts."""
    trainer = Trainer(compose_train(*TINY, "train.channels_last=true", "train.ema=0.9"), tmp_path)
    weights = [p for p in trainer.gan.G_ema.module.parameters() if p.dim() == 4]
    assert weights and all(p.is_contiguous(memory_format=torch.channels_last) for p in weights)
