"""`gancli eval` and the evaluation module: each metric on sets whose answer is known."""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from omegaconf import DictConfig, OmegaConf
from PIL import Image

from gancli.checkpoint import load_checkpoint
from gancli.config import EvalOptions
from gancli.data import DataInfo, load_dataset
from gancli.data.points import sample_mixture
from gancli.errors import GancliError
from gancli.evaluation import cache, display, distribution, manifold
from gancli.evaluation.evaluate import Evaluator, default_metrics, default_primary, is_better
from gancli.evaluation.features import Features, classifier
from gancli.evaluation.features.classifier import load_classifier
from gancli.evaluation.memorization import pairs_figure
from gancli.evaluation.metrics import METRICS
from gancli.files import pixels_to_unit, quantize, read_samples
from gancli.sampling import ScoreDraw, generate_scored, load_generator
from tests.conftest import TINY, last_line, run_cli

CPU = torch.device("cpu")


def data_cfg(
    name: str = "digits", root: Path | None = None, resolution: int | None = 16
) -> DictConfig:
    return OmegaConf.create(
        {
            "name": name,
            "root": None if root is None else str(root),
            "resolution": resolution,
            "num_points": 2000,
        }
    )


def opts(**kw: object) -> DictConfig:
    return OmegaConf.merge(OmegaConf.structured(EvalOptions), kw)


@pytest.fixture(scope="module")
def digits() -> tuple[torch.Tensor, torch.Tensor]:
    """uint8 digits pixels (16×16): training split, test split."""
    cfg = data_cfg()
    return load_dataset(cfg, "train").pixels(), load_dataset(cfg, "test").pixels()


@pytest.fixture(scope="module")
def digits_eval() -> Evaluator:
    """Every image metric on digits, compared with the training split."""
    cfg = data_cfg()
    return Evaluator(opts(reference="train"), cfg, load_dataset(cfg, "train").info, CPU)


# -- the conversion path ---------------------------------------------------------------------------


def test_one_conversion_path_round_trips() -> None:
    x = torch.linspace(-1, 1, 256).view(1, 1, 16, 16)
    pixels = quantize(x)
    assert pixels.dtype == torch.uint8 and pixels.min() == 0 and pixels.max() == 255
    assert torch.equal(quantize(pixels_to_unit(pixels)), pixels)
    assert (pixels_to_unit(pixels) - x).abs().max() <= 1 / 255 + 1e-6


# -- the metric catalogue --------------------------------------------------------------------------


def test_the_catalogue_lists_every_metric_with_the_values_it_writes(
    digits_eval: Evaluator, digits: tuple
) -> None:
    assert {name: list(metric.keys) for name, metric in METRICS.items()} == {
        "fid": ["fid"],
        "kid": ["kid_mean", "kid_std"],
        "is": ["is_mean", "is_std"],
        "pr": ["precision", "recall"],
        "dc": ["density", "coverage"],
        "modes": ["modes_captured", "modes_total", "reverse_kl", "hq_fraction"],
        "confidence": ["confidence"],
        "memorization": ["memorization_ratio", "memorized_fraction", "memorization_flag"],
        "intra_fid": ["intra_fid", "intra_fid_classes"],
        "cas": ["cas"],
        "match": ["match_accuracy", "match_accuracy_seen", "match_accuracy_unseen"],
        "translation": ["l1", "psnr", "ssim"],
    }
    # What the metrics write is what they declare.
    written = set(digits_eval(digits[1][:500])) - set(digits_eval.metadata(0))
    declared = {key for name in digits_eval.metrics for key in METRICS[name].keys}
    assert written == declared


IMAGE_DEFAULTS = ["fid", "kid", "is", "pr", "dc", "modes", "confidence", "memorization"]
NO_CLASSES = ["fid", "kid", "is", "pr", "dc", "memorization"]


@pytest.mark.parametrize(
    "kind, classes, space, condition, expected",
    [
        ("image", 10, "classifier", "none", IMAGE_DEFAULTS),
        ("image", 10, "inception", "none", NO_CLASSES),
        ("image", 10, "classifier", "labels", [*IMAGE_DEFAULTS, "intra_fid", "cas", "match"]),
        ("image", 10, "inception", "labels", [*NO_CLASSES, "intra_fid", "cas"]),
        # Paired data has no classes to train the classifier on.
        ("image", 0, "classifier", "pairs", ["translation"]),
        ("image", 0, "inception", "pairs", ["fid", "translation"]),
        ("points", 0, "classifier", "none", ["modes"]),
    ],
)
def test_defaults_suit_the_data_the_feature_space_and_the_generator(
    kind: str, classes: int, space: str, condition: str, expected: list[str]
) -> None:
    info = DataInfo("d", kind, (1, 8, 8) if kind == "image" else (2,), classes)
    assert default_metrics(info, space, condition) == expected


def test_the_primary_is_fid_or_the_first_metrics_ranking_value() -> None:
    assert default_primary(["kid", "fid"]) == "fid"
    assert default_primary(["dc", "kid"]) == "coverage"
    assert default_primary(["memorization"]) == "memorized_fraction"
    assert default_primary(["modes"]) == "reverse_kl"  # 2D points' default


def test_an_unknown_metric_fails_with_the_registrys_one_line_message() -> None:
    cfg = data_cfg()
    with pytest.raises(GancliError) as err:
        Evaluator(opts(metrics=["fid", "fdi"]), cfg, load_dataset(cfg, "train").info, CPU)
    assert str(err.value) == (
        "unknown metric (eval.metrics) 'fdi'; choose one of: fid, kid, is, "
        "pr, dc, modes, confidence, memorization, intra_fid, cas, match, "
        "translation"
    )


def test_registries_are_full_in_a_fresh_interpreter_whatever_is_imported_first() -> None:
    """The feature spaces' own module, imported alone, already knows both spaces (and leaves
    the optional torch-fidelity unimported)."""
    code = (
        "import sys\n"
        "from gancli.evaluation.features.space import FEATURE_SPACES\n"
        "print(sorted(FEATURE_SPACES), 'torch_fidelity' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.split("\n")[0] == "['classifier', 'inception'] False"


# -- distribution metrics --------------------------------------------------------------------------


def test_fid_of_real_images_is_far_below_that_of_noise(
    digits_eval: Evaluator, digits: tuple
) -> None:
    _, test = digits
    noise = torch.randint(
        0, 256, test.shape, dtype=torch.uint8, generator=torch.Generator().manual_seed(0)
    )
    real, fake = digits_eval(test), digits_eval(noise)
    assert real["fid"] < fake["fid"] / 20
    assert real["kid_mean"] < fake["kid_mean"] / 20
    assert real["precision"] > 0.8 and fake["precision"] < 0.05
    assert real["modes_captured"] == 10 and real["reverse_kl"] < 0.05  # noise ~ 9/(2·359)
    assert real["confidence"] > 0.95
    assert real["features"] == "classifier" and real["n_samples"] == len(test)
    assert real["reference"] == "train" and real["classifier_test_accuracy"] >= 0.95


def random_features(n: int, seed: int, shift: float = 0.0) -> Features:
    g = torch.Generator().manual_seed(seed)
    return Features(torch.randn(n, 16, generator=g) + shift, None)


def test_kid_of_a_set_with_itself_is_zero() -> None:
    a = random_features(500, 0)
    same = distribution.kid(a, a)["kid_mean"]
    other = distribution.kid(a, random_features(500, 1, shift=1.0))["kid_mean"]
    assert abs(same) < 0.01 * other
    assert distribution.fid(a, a)["fid"] == pytest.approx(0, abs=1e-3)


def test_kid_subset_size_is_clamped_to_small_sets() -> None:
    result = distribution.kid(random_features(40, 0), random_features(30, 1))
    assert math.isfinite(result["kid_mean"]) and math.isfinite(result["kid_std"])


def confident_logits(classes: torch.Tensor, k: int = 10) -> Features:
    return Features(torch.zeros(len(classes), 1), 30.0 * torch.eye(k)[classes])


def test_inception_score_counts_confident_classes() -> None:
    one_class = distribution.inception_score(confident_logits(torch.zeros(1000, dtype=torch.long)))
    balanced = distribution.inception_score(confident_logits(torch.arange(10000) % 10))
    assert one_class["is_mean"] == pytest.approx(1.0, abs=1e-3)
    # 10 random splits of 1,000: each split's class histogram is only nearly uniform.
    assert balanced["is_mean"] == pytest.approx(10.0, rel=0.01)
    assert math.isfinite(
        distribution.inception_score(confident_logits(torch.arange(3)))["is_std"]
    )  # a tiny set still gets >= 2 splits


def test_precision_recall_density_coverage() -> None:
    a, b = random_features(400, 0), random_features(400, 1)
    assert manifold.precision_recall(a, a) == {"precision": 1.0, "recall": 1.0}
    dc = manifold.density_coverage(a, a)
    # A set against itself: every point also sits in its own ball, so density is (k + 1) / k.
    assert dc["coverage"] == 1.0 and dc["density"] == pytest.approx(6 / 5, rel=0.02)
    same_dist = manifold.precision_recall(a, b)
    # k=3 manifolds of 400 points in 16 dimensions miss some of a fresh draw (~0.76), and
    # clearly more of a shifted one.
    assert same_dist["precision"] > 0.65 and same_dist["recall"] > 0.65
    shifted = manifold.precision_recall(a, random_features(400, 3, shift=1.0))
    assert shifted["precision"] < same_dist["precision"] - 0.3
    dc = manifold.density_coverage(a, b)
    assert dc["density"] == pytest.approx(1.0, rel=0.15) and dc["coverage"] > 0.9
    # A generator that only covers half of the data: precise, but recall halves.
    flat = Features(torch.randn(1000, 2, generator=torch.Generator().manual_seed(4)), None)
    half = Features(flat.feats[flat.feats[:, 0] > 0], None)
    pr = manifold.precision_recall(flat, half)
    assert pr["precision"] == 1.0 and 0.4 < pr["recall"] < 0.7
    far = manifold.precision_recall(a, random_features(400, 2, shift=10.0))
    assert far == {"precision": 0.0, "recall": 0.0}


# -- memorization ----------------------------------------------------------------------------------


def test_training_images_are_flagged_as_memorized_and_test_images_are_not(
    digits: tuple, tmp_path: Path
) -> None:
    train, test = digits
    cfg = data_cfg()
    ev = Evaluator(opts(metrics=["memorization"]), cfg, load_dataset(cfg, "train").info, CPU)
    copied = ev(train[:300], tmp_path)
    fresh = ev(test)
    assert copied["memorization_flag"] is True and copied["memorized_fraction"] == 1.0
    assert copied["memorization_ratio"] == 0.0
    assert fresh["memorization_flag"] is False and fresh["memorized_fraction"] <= 0.02
    assert fresh["memorization_ratio"] == pytest.approx(1.0, abs=1e-6)
    pairs = Image.open(tmp_path / "memorization.png")
    assert pairs.width < pairs.height  # 8 rows of (generated, training) pairs
    fig = pairs_figure(train[:2], test[:2], [0.0, 0.5])
    assert [ax.get_title() for ax in fig.axes] == ["generated", "nearest\ntraining image", "", ""]
    assert fig.axes[2].get_ylabel() == "distance\n0.500"


# -- modes -----------------------------------------------------------------------------------------


def test_class_modes_see_a_collapsed_generator(digits_eval: Evaluator, digits: tuple) -> None:
    _, test = digits
    labels = load_dataset(data_cfg(), "test").y
    collapsed = digits_eval(test[labels == 3])
    assert collapsed["modes_captured"] == 1
    assert collapsed["reverse_kl"] == pytest.approx(math.log(10), rel=0.1)


def test_2d_mode_scoring_through_eval(tmp_path: Path) -> None:
    true = sample_mixture("ring8", 2500, seed=5).rows
    collapsed = sample_mixture("ring8", 2500, seed=6).rows
    collapsed = collapsed[:1].repeat(2500, 1) + 0.003 * torch.randn(2500, 2)
    for points, modes, hq in ((true, 8, 0.98), (collapsed, 1, 0.99)):
        path = tmp_path / f"p{modes}.npz"
        np.savez(path, points=points.numpy())
        proc = run_cli(
            "eval", f"samples={path}", "data=ring8", f"hydra.run.dir={tmp_path}", cwd=tmp_path
        )
        result = json.loads(Path(last_line(proc.stdout)).read_text())
        assert result["modes_captured"] == modes and result["hq_fraction"] >= hq
        assert result["n_samples"] == 2500 and result["dataset"] == "ring8"


# -- classifier ------------------------------------------------------------------------------------


def test_classifier_is_cached_and_a_corrupt_entry_is_rebuilt(eval_cache: Path) -> None:
    cfg = data_cfg(resolution=8)
    model, acc, _ = load_classifier(cfg, CPU)
    entries = sorted(eval_cache.glob("classifier-digits-*.pt"))
    assert acc >= 0.95 and entries
    stamp = {p: p.stat().st_mtime_ns for p in entries}
    _, again, _ = load_classifier(cfg, CPU)
    assert again == acc and {p: p.stat().st_mtime_ns for p in entries} == stamp
    key = cache.cache_key("x", {"a": 1})
    (eval_cache / f"{key}.pt").write_bytes(b"not a tensor file")
    assert cache.cached(key, lambda: {"v": torch.ones(1)})["v"].item() == 1.0


@pytest.mark.slow  # 2 minutes of training on the 2-core CPU, shared only with the stacked test
def test_mnist_classifier_reaches_99_percent(mnist_root: Path) -> None:
    _, acc, _ = load_classifier(data_cfg("mnist", mnist_root, 32), CPU)
    assert acc >= 0.99


@pytest.mark.slow  # 75 s of training that no other test reuses (the MNIST one feeds stacked)
def test_fashion_mnist_classifier_reaches_90_percent(fashion_root: Path) -> None:
    _, acc, _ = load_classifier(data_cfg("fashion_mnist", fashion_root, 32), CPU)
    assert acc >= 0.90


@pytest.mark.slow  # needs the MNIST classifier above
def test_stacked_mnist_is_classified_channel_by_channel(mnist_root: Path) -> None:
    cfg = data_cfg("stacked_mnist", mnist_root, 32)
    test = load_dataset(cfg, "test")
    ev = Evaluator(opts(metrics=["modes", "confidence"]), cfg, test.info, CPU)
    logits = ev.space.extract(test.pixels()[:2000]).logits
    assert logits.shape == (2000, 1000)
    assert (logits.argmax(1) == test.y[:2000]).double().mean() > 0.95  # about 0.99 ** 3
    assert ev(test.pixels()[:2000])["modes_captured"] > 800


# -- feature spaces --------------------------------------------------------------------------------


def test_inception_without_weights_says_both_ways() -> None:
    cfg = data_cfg()
    with pytest.raises(GancliError, match="inception_weights=PATH.*network access"):
        Evaluator(
            opts(features="inception", inception_source="torch_fidelity"),
            cfg,
            load_dataset(cfg, "train").info,
            CPU,
        )


class StandInInception(torch.nn.Module):
    """Shaped like the FID Inception (uint8 N×3×H×W → 2048 features, 1008 logits)."""

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        assert x.dtype == torch.uint8 and x.shape[1] == 3
        flat = x.float().flatten(1) / 255
        return flat.repeat(1, 8)[:, :2048], flat[:, :1008].repeat(1, 4)[:, :1008] * 5


def test_inception_space_is_wired_through_every_metric(
    monkeypatch: pytest.MonkeyPatch, digits: tuple
) -> None:
    from gancli.evaluation.features import inception

    monkeypatch.setattr(inception, "load_inception", lambda weights: StandInInception())
    cfg = data_cfg()
    info = load_dataset(cfg, "train").info
    ev = Evaluator(
        opts(features="inception", inception_source="torch_fidelity", n=100), cfg, info, CPU
    )
    result = ev(digits[1][:100])
    assert result["features"] == "inception" and "classifier_test_accuracy" not in result
    assert result["inception_extractor"] == "torch-fidelity inception-v3-compat pool3+logits"
    assert result["inception_weights"] == "pt_inception-2015-12-05-6726825d.pth"
    assert {
        "fid",
        "kid_mean",
        "is_mean",
        "precision",
        "density",
        "memorization_ratio",
    } <= result.keys()
    with pytest.raises(GancliError, match="use eval.features=classifier"):
        Evaluator(
            opts(features="inception", inception_source="torch_fidelity", metrics=["modes"]),
            cfg,
            info,
            CPU,
        )


# -- the command -----------------------------------------------------------------------------------


KEYS = {
    "fid",
    "kid_mean",
    "kid_std",
    "is_mean",
    "is_std",
    "precision",
    "recall",
    "density",
    "coverage",
    "modes_captured",
    "modes_total",
    "reverse_kl",
    "confidence",
    "memorization_ratio",
    "memorized_fraction",
    "memorization_flag",
    "classifier_test_accuracy",
    "n_samples",
    "features",
    "reference",
    "dataset",
    "checkpoint",
}


def eval_json(proc) -> dict:
    return json.loads(Path(last_line(proc.stdout)).read_text())


def console_value(stderr: str, row: str) -> str:
    """The value cell of the console table's row that starts with `row`."""
    line = next(ln for ln in stderr.splitlines() if ln.lstrip("│ ").startswith(row))
    return line.split("│")[-2].strip()


def test_eval_of_a_run_writes_into_it_and_its_report_shows_what_the_console_did(
    tiny_run: Path, tmp_path: Path
) -> None:
    """`gancli eval ckpt=RUN` keeps its results in RUN/eval/<date>_<time>/; `gancli report
    RUN` lists them, each value written as the console wrote it."""
    run = shutil.copytree(tiny_run, tmp_path / "run")  # the fixture is shared
    proc = run_cli("eval", f"ckpt={run}", "eval.n=300", cwd=tmp_path)
    out = Path(last_line(proc.stdout)).parent
    assert out.parent == run / "eval" and (out / "eval.json").is_file()
    assert not (tmp_path / "outputs").exists()
    result = eval_json(proc)
    assert KEYS <= result.keys()
    assert result["n_samples"] == 300 and result["features"] == "classifier"
    assert result["reference"] == "test" and result["dataset"] == "digits"
    # The checkpoint as it was named (here the run folder), made absolute; the step it holds.
    assert result["checkpoint"] == str(run.resolve()) and result["step"] == 20
    assert result["primary"] == "fid"
    assert (out / "memorization.png").is_file()
    assert "features=classifier" in proc.stderr
    fid, kid = (
        console_value(proc.stderr, "fid ↓ (primary)"),
        console_value(proc.stderr, "kid_mean ↓"),
    )
    assert fid == display.number("fid", result["fid"]) and " ± " in kid
    run_cli("report", str(run), cwd=tmp_path)
    page = (run / "report.html").read_text()
    assert f"eval/{out.name}" in page and "No evaluation" not in page
    assert f'<td class="num">{fid}</td>' in page and f'<td class="num">{kid}</td>' in page


def test_a_shape_mismatch_fails_before_a_classifier_trains(
    png_samples: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GANCLI_CACHE", str(tmp_path / "cache"))
    proc = run_cli(
        "eval", f"samples={png_samples}", "data.resolution=16", cwd=tmp_path, check=False
    )
    assert proc.returncode == 1
    assert "samples are 1×8×8 (C×H×W) but digits here is 1×16×16" in proc.stderr
    assert "classifier" not in proc.stderr
    assert not list((tmp_path / "cache").glob("classifier-*"))


@pytest.mark.parametrize(
    "data, trained", [("data=ring8", "digits"), ("data.resolution=16", "digits with resolution=8")]
)
def test_a_checkpoint_is_not_scored_against_other_data_silently(
    data: str, trained: str, tiny_run: Path, tmp_path: Path
) -> None:
    """A data= the checkpoint was not trained on is refused in one line, before any work, and
    the run keeps no folder for it."""
    run = shutil.copytree(tiny_run, tmp_path / "run")
    proc = run_cli("eval", f"ckpt={run}", data, cwd=tmp_path, check=False)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    error = [ln for ln in proc.stderr.splitlines() if "error" in ln]
    assert len(error) == 1 and f"the data it was trained on ({trained}), not {data}" in error[0]
    assert f"gancli eval samples=s.npz {data}" in error[0]
    assert not (run / "eval").exists()


def test_a_runs_checkpoint_composes_with_its_own_data_so_data_root_can_move_it(
    tiny_run: Path, tmp_path: Path
) -> None:
    """`gancli eval ckpt=RUN data.root=DIR` for a run trained on MNIST: eval's default data
    (digits) has no `root`, so the run's own data option is chosen from Hydra's record of the
    run before composing; a `data=` of the user's is left to the check above."""
    run = shutil.copytree(tiny_run, tmp_path / "run")
    hydra_yaml = run / ".hydra" / "hydra.yaml"
    recorded = OmegaConf.load(hydra_yaml)
    recorded.hydra.runtime.choices.data = "mnist"
    OmegaConf.save(recorded, hydra_yaml)
    proc = run_cli("eval", f"ckpt={run}", "data.root=/data/mnist", "--cfg", "job", cwd=tmp_path)
    composed = OmegaConf.create(proc.stdout)
    assert composed.data.name == "mnist" and composed.data.root == "/data/mnist"
    given = run_cli("eval", f"ckpt={run}", "data=ring8", "--cfg", "job", cwd=tmp_path)
    assert OmegaConf.create(given.stdout).data.name == "ring8"


def test_samples_score_the_same_from_g_a_png_folder_and_an_npz(
    tiny_run: Path, tmp_path: Path
) -> None:
    """G's output, its PNGs and its .npz go through one conversion: identical numbers."""
    run_cli("sample", f"ckpt={tiny_run}", "n=200", f"out={tmp_path / 'pngs'}", cwd=tmp_path)
    run_cli("sample", f"ckpt={tiny_run}", "n=200", f"out={tmp_path / 's.npz'}", cwd=tmp_path)
    files = ["data=digits", "data.resolution=8"]
    sources = {
        "g": [f"ckpt={tiny_run}", "eval.n=200"],
        "png": [f"samples={tmp_path / 'pngs'}", *files],
        "npz": [f"samples={tmp_path / 's.npz'}", *files],
    }
    results = [
        eval_json(
            run_cli(
                "eval",
                *args,
                "eval.metrics=[fid,pr,confidence]",
                f"hydra.run.dir={tmp_path / name}",
                cwd=tmp_path,
            )
        )
        for name, args in sources.items()
    ]
    for key in ("fid", "precision", "recall", "confidence"):
        assert results[0][key] == pytest.approx(results[1][key], rel=1e-6)
        assert results[1][key] == pytest.approx(results[2][key], rel=1e-6)
    # ... because the pixels themselves are identical.
    ckpt = load_checkpoint(tiny_run)
    G, train_cfg, info, conditioning = load_generator(ckpt, use_ema=True)
    direct = generate_scored(G, conditioning, ScoreDraw(200, 0, train_cfg.latent, CPU, 500)).samples
    assert torch.equal(read_samples(str(tmp_path / "pngs")), direct)
    assert torch.equal(read_samples(str(tmp_path / "s.npz")), direct)


def test_the_data_where_it_is_now_reaches_the_generators_conditioning(tiny_run: Path) -> None:
    """`gancli eval ckpt=... data.root=NEW` hands the moved data config to the generator it
    rebuilds, so a mode that reads the data (captions, input images) reads it there; nothing
    overwrites the conditioning's config afterwards."""
    ckpt = load_checkpoint(tiny_run)
    moved = OmegaConf.merge(OmegaConf.create(ckpt["config"]).data, {"root": "/data/moved"})
    _, train_cfg, _, conditioning = load_generator(ckpt, use_ema=True, data=moved)
    assert conditioning.groups.data.root == train_cfg.data.root == "/data/moved"
    assert load_generator(ckpt, use_ema=True)[3].groups.data.get("root") != "/data/moved"


@pytest.fixture
def png_samples(tmp_path: Path) -> Path:
    """Two 8×8 grey PNGs."""
    (tmp_path / "s").mkdir()
    Image.new("L", (8, 8)).save(tmp_path / "s" / "0.png")
    Image.new("L", (8, 8), 255).save(tmp_path / "s" / "1.png")
    return tmp_path / "s"


@pytest.mark.parametrize(
    "args, message",
    [
        (
            ["eval.metrics=[fid,fdi]"],
            "unknown metric (eval.metrics) 'fdi'; choose one of: fid, kid",
        ),
        (["eval.n=1"], "eval.n=1 is out of range: must be >= 2"),
        (["eval.metrics=[fid]", "eval.primary=recal"], "eval.primary=recal is not among"),
        (["data.resolution=16"], "samples are 1×8×8 (C×H×W) but digits here is 1×16×16"),
    ],
)
def test_bad_requests_fail_with_one_line(
    args: list[str], message: str, png_samples: Path, tmp_path: Path
) -> None:
    proc = run_cli(
        "eval", f"samples={png_samples}", "data.resolution=8", *args, cwd=tmp_path, check=False
    )
    assert proc.returncode == 1, proc.stderr
    assert message in proc.stderr and "Traceback" not in proc.stderr


def test_eval_needs_exactly_one_source(png_samples: Path, tiny_run: Path, tmp_path: Path) -> None:
    for args in ([], [f"ckpt={tiny_run}", f"samples={png_samples}"]):
        proc = run_cli("eval", *args, cwd=tmp_path, check=False)
        assert proc.returncode == 1 and "give exactly one of ckpt=PATH" in proc.stderr


def test_jpeg_samples_are_refused(tmp_path: Path) -> None:
    (tmp_path / "s").mkdir()
    Image.new("L", (8, 8)).save(tmp_path / "s" / "0.jpg")
    proc = run_cli("eval", f"samples={tmp_path / 's'}", cwd=tmp_path, check=False)
    assert proc.returncode == 1 and "JPEG" in proc.stderr


def test_unreadable_samples_fail_with_one_line(tmp_path: Path) -> None:
    np.savez(tmp_path / "obj.npz", images=np.array([object()], dtype=object))
    (tmp_path / "trunc.npz").write_bytes((tmp_path / "obj.npz").read_bytes()[:50])
    (tmp_path / "pngs").mkdir()
    (tmp_path / "pngs" / "0.png").write_bytes(b"not a png")
    for name, message in (
        ("obj.npz", "is not a readable samples file"),
        ("trunc.npz", "is not a readable samples file"),
        ("pngs", "is not a readable PNG"),
    ):
        proc = run_cli(
            "eval", f"samples={tmp_path / name}", "data.resolution=8", cwd=tmp_path, check=False
        )
        assert proc.returncode == 1 and message in proc.stderr, proc.stderr
        assert "Traceback" not in proc.stderr


def test_2d_data_refuses_image_metrics(tmp_path: Path) -> None:
    np.savez(tmp_path / "p.npz", points=np.zeros((10, 2), np.float32))
    proc = run_cli(
        "eval",
        f"samples={tmp_path / 'p.npz'}",
        "data=ring8",
        "eval.metrics=[fid]",
        cwd=tmp_path,
        check=False,
    )
    assert proc.returncode == 1 and "only eval.metrics=[modes] applies" in proc.stderr


# -- during training -------------------------------------------------------------------------------


def test_is_better_knows_each_metrics_direction() -> None:
    assert is_better("fid", 10.0, 20.0) and not is_better("fid", 30.0, 20.0)
    assert is_better("precision", 0.9, 0.8) and not is_better("modes_captured", 7, 8)
    assert is_better("psnr", 30.0, 20.0) and is_better("l1", 0.1, 0.2)
    assert is_better("fid", 5.0, None) and not is_better("fid", math.nan, None)


@pytest.mark.parametrize("primary, best_of", [("fid", min), ("confidence", max)])
def test_train_eval_every_logs_metrics_and_keeps_the_best_checkpoint(
    primary: str, best_of: Callable[..., dict], tmp_path: Path
) -> None:
    """best.pt follows the primary's registered direction: lowest fid, highest confidence."""
    run = tmp_path / "run"
    run_cli(
        "train",
        *TINY,
        "train.eval_every=10",
        "eval.n=200",
        "eval.metrics=[fid,confidence]",
        f"eval.primary={primary}",
        f"hydra.run.dir={run}",
        cwd=tmp_path,
    )
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    evals = [r for r in records if "fid" in r]
    assert [r["step"] for r in evals] == [10, 20]
    assert all(r["n_samples"] == 200 and r["features"] == "classifier" for r in evals)
    assert evals[0][primary] != evals[1][primary]  # else either step would pass
    best = torch.load(run / "checkpoints" / "best.pt", weights_only=True)
    winner = best_of(evals, key=lambda r: r[primary])
    assert best["step"] == winner["step"]
    assert best["eval_best"] == {
        "metric": primary,
        "value": pytest.approx(winner[primary]),
        "step": winner["step"],
    }


# -- the classifier's numerics ---------------------------------------------------------------------


def test_the_classifier_trains_on_the_cpu_and_real_features_follow_the_devices_numerics(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Asked for another device ("meta" stands in for a GPU this machine lacks), the classifier
    still trains on the CPU, so every device shares one cached classifier (one feature space),
    while the real-feature key follows the device and CUDA's TF32 switches."""
    monkeypatch.setenv("GANCLI_CACHE", str(tmp_path))
    monkeypatch.setitem(classifier.RECIPE, "min_steps", 2)  # a fresh entry, trained in moments
    monkeypatch.setitem(classifier.RECIPE, "epochs", 0)
    trained_on: set[str] = set()
    forward = classifier.DomainClassifier.forward

    def spy(self: classifier.DomainClassifier, x: torch.Tensor) -> tuple:
        if self.training:
            trained_on.add(x.device.type)
        return forward(self, x)

    monkeypatch.setattr(classifier.DomainClassifier, "forward", spy)
    cfg = data_cfg(resolution=8)
    info = load_dataset(cfg, "train").info
    elsewhere = classifier.classifier_space(cfg, info, opts(), torch.device("meta"))
    here = classifier.classifier_space(cfg, info, opts(), CPU)
    assert trained_on == {"cpu"} and len(list(tmp_path.glob("classifier-*.pt"))) == 1
    assert here.settings["classifier"] == elsewhere.settings["classifier"]
    assert here.settings["numerics"] == {"device": "cpu"}
    assert cache.cache_key("features", here.settings) != cache.cache_key(
        "features", elsewhere.settings
    )
    saved = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    cuda = []
    try:  # the switches are settable without a GPU; monkeypatch cannot restore cuBLAS's
        for tf32 in (False, True):
            torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = tf32
            cuda.append(cache.numerics(torch.device("cuda")))
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved
    assert cuda[0] != cuda[1] and cuda[1]["tf32_cudnn"] and cuda[0]["device"] == "cuda"
