"""`gancli report`: a page per run, a comparison of a sweep's groups (mean ± std over seeds,
ranked by the primary score), pages that say what a run lacks, one line for a wrong path."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote

import pytest
import yaml
from PIL import Image

from gancli import cli
from gancli.report import plots
from gancli.report.compare import group_runs
from gancli.report.runs import read_run
from tests.conftest import last_line


def fake_run(
    folder: Path,
    *,
    overrides: list[str] = (),
    choices: dict | None = None,
    config: dict | None = None,
    lines: list[dict | str] = (),
    finished: bool = True,
    pictures: tuple[int, ...] = (10,),
) -> Path:
    """A run folder as `gancli train` writes it: `.hydra/` (config, overrides, the groups'
    choices), metrics.jsonl (a `str` line is written as it is), training pictures, and
    samples/final.png when `finished`."""
    (folder / ".hydra").mkdir(parents=True)
    cfg = {
        "data": {"name": "digits"},
        "model": {"name": "dcgan"},
        "loss": {"name": "ns"},
        "train": {"seed": 0, "steps": 500},
        "eval": {"primary": None},
    }
    for group, values in (config or {}).items():
        cfg[group] = {**cfg.get(group, {}), **values}
    (folder / ".hydra" / "config.yaml").write_text(yaml.safe_dump(cfg))
    (folder / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump(list(overrides)))
    groups = {"data": cfg["data"]["name"], "loss": cfg["loss"]["name"], **(choices or {})}
    (folder / ".hydra" / "hydra.yaml").write_text(
        yaml.safe_dump({"hydra": {"runtime": {"choices": groups}}})
    )
    (folder / "metrics.jsonl").write_text(
        "".join((x if isinstance(x, str) else json.dumps(x)) + "\n" for x in lines)
    )
    (folder / "samples").mkdir()
    for step in pictures:
        Image.new("RGB", (20, 20), "blue").save(folder / "samples" / f"step_{step}.png")
    if finished:  # training writes it once it completed
        Image.new("RGB", (20, 20), "red").save(folder / "samples" / "final.png")
    return folder


def train_line(step: int, elapsed: float = 12.0, divergence: float = 0.5) -> dict:
    return {
        "step": step,
        "loss_d": 1.0,
        "loss_g": 0.7,
        "d_real": 0.6,
        "d_fake": 0.4,
        "divergence": divergence,
        "grad_norm_d": 2.0,
        "grad_norm_g": 3.0,
        "imgs_per_s": 900.0,
        "elapsed_s": elapsed,
    }


def report(*args: str | Path, capsys: pytest.CaptureFixture) -> tuple[int, str, str]:
    """`gancli report ARGS` in this process: (exit status, stdout, stderr)."""
    code = cli.main(["report", *map(str, args)])
    out = capsys.readouterr()
    return code, out.out, out.err


class Links(HTMLParser):
    """Every `<img src>` (with its `width`) and `<a href>` of a page; its title and `<h1>`."""

    def __init__(self) -> None:
        super().__init__()
        self.images: list[str] = []
        self.widths: dict[str, int] = {}
        self.links: list[str] = []
        self.title = self.h1 = ""
        self._in: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attr = dict(attrs)
        if tag == "img":
            self.images.append(attr["src"])
            if attr.get("width"):
                self.widths[unquote(attr["src"])] = int(attr["width"])
        elif tag == "a":
            self.links.append(attr["href"])
        self._in = tag if tag in ("title", "h1") else None

    def handle_data(self, data: str) -> None:
        if self._in:
            setattr(self, self._in, getattr(self, self._in) + data)

    def handle_endtag(self, tag: str) -> None:
        self._in = None


def check_links(page: Path) -> Links:
    """Parse `page`; every picture and link is a relative path to a file beside it (the page
    opens from disk, without a network)."""
    parsed = Links()
    parsed.feed(page.read_text())
    for target in parsed.images + parsed.links:
        assert "://" not in target and not target.startswith("/"), target
        assert (page.parent / unquote(target)).is_file(), f"{page}: {target} is missing"
    assert "<script" not in page.read_text()
    return parsed


def rows(md: str) -> list[str]:
    """The table rows of compare.md, without the header and rule."""
    return [ln for ln in md.splitlines() if ln.startswith("| ")][2:]


def test_sweep_of_two_losses_by_two_seeds(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    sweep = tmp_path / "sweep"
    fids = {("ns", 0): 10.0, ("ns", 1): 14.0, ("hinge", 0): 20.0, ("hinge", 1): 30.0}
    for job, ((loss, seed), fid) in enumerate(fids.items()):
        fake_run(
            sweep / str(job),
            overrides=[
                "train.steps=500",
                f"train.seed={seed}",
                f"loss={loss}",
                f"hydra.run.dir=/x/{job}",
            ],
            config={"loss": {"name": loss}, "train": {"seed": seed}},
            lines=[
                train_line(250),
                {
                    "step": 500,
                    "fid": fid,
                    "precision": fid / 100,
                    "kid_std": 1.0,
                    "n_samples": 100,
                    "dataset": "digits",
                },
                train_line(500, elapsed=10.0 + seed),
            ],
        )
    (sweep / "multirun.yaml").write_text("hydra: {}\n")
    code, out, err = report(sweep, capsys=capsys)
    assert code == 0, err
    page = sweep / "report.html"
    assert last_line(out) == str(page)
    md = (sweep / "compare.md").read_text()
    assert md.splitlines()[0] == (
        f"4 runs from {sweep} (2 groups by loss; seeds 0, 1): final evaluation ranked by "
        "fid ↓, at step 500; mean ± std over the seeds that finished; stopped: runs without "
        "samples/final.png."
    )
    assert md.splitlines()[2] == "| loss | seeds | stopped | fid ↓ | precision ↑ | time s |"
    assert rows(md) == [
        "| ns | 2 | 0 | 12.00 ± 2.83 | 0.1200 ± 0.0283 | 10 ± 1 |",
        "| hinge | 2 | 0 | 25.00 ± 7.07 | 0.2500 ± 0.0707 | 10 ± 1 |",
    ]
    parsed = check_links(page)
    assert len([ln for ln in parsed.links if ln.endswith("report.html")]) == 4
    assert sum(src.endswith("final.png") for src in parsed.images) == 2  # one per group
    for job in range(4):
        check_links(sweep / str(job) / "report.html")
        assert (sweep / str(job) / "report" / "training.png").is_file()


def mode_line(step: int, modes: int, hq: float, kl: float) -> dict:
    return {
        "step": step,
        "modes_captured": modes,
        "modes_total": 8,
        "hq_fraction": hq,
        "reverse_kl": kl,
    }


def test_2d_sweep_ranks_by_reverse_kl_and_counts_stopped_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    """`make compare`'s shape: nested sweeps, an f-GAN divergence as its own column, diverged
    seeds left out of the means and counted, a group with no finished run last."""
    runs = [
        ("losses/0", "ns", 0, mode_line(100, 8, 0.9, 0.1), True),
        ("losses/1", "ns", 1, mode_line(100, 6, 0.7, 0.3), True),
        ("losses/2", "lsgan", 0, mode_line(100, 8, 0.9, 0.0), False),
        ("fgan/0", "fgan", 0, mode_line(100, 8, 1.0, 0.05), True),
        ("fgan/1", "fgan", 1, mode_line(50, 1, 0.1, 2.0), False),
    ]
    for job, loss, seed, scores, finished in runs:
        divergence = ["loss.divergence=kl"] if loss == "fgan" else []
        fake_run(
            tmp_path / "ring8" / job,
            overrides=[f"loss={loss}", *divergence, f"train.seed={seed}"],
            config={
                "data": {"name": "ring8"},
                "train": {"seed": seed, "steps": 100},
                "loss": {"name": loss, **({"divergence": "kl"} if divergence else {})},
            },
            lines=[train_line(scores["step"], elapsed=12.0 + 2 * seed), scores],
            finished=finished,
        )
    code, _, err = report(tmp_path / "ring8", capsys=capsys)
    assert code == 0, err
    md = (tmp_path / "ring8" / "compare.md").read_text()
    assert md.splitlines()[2] == (
        "| loss | loss.divergence | seeds | stopped | reverse KL ↓ | "
        "modes ↑ | HQ fraction ↑ | time s |"
    )
    # A fraction is written as one, as the console writes it (never 80.0 for 0.8).
    assert rows(md) == [
        "| fgan | kl | 2 | 1 | 0.0500 | 8.0 / 8 | 1.000 | 12 |",
        "| ns | — | 2 | 0 | 0.2000 ± 0.1414 | 7.0 ± 1.4 / 8 | 0.8000 ± 0.1414 | 13 ± 1 |",
        "| lsgan | — | 1 | 1 | — | — | — | — |",
    ]
    page = tmp_path / "ring8" / "report.html"
    check_links(page)
    assert "no final samples: all 1 run(s) stopped" in page.read_text()
    stopped = (tmp_path / "ring8" / "fgan" / "1" / "report.html").read_text()
    assert "No final samples: the run stopped at step 50 of 100." in stopped


def test_a_higher_is_better_primary_ranks_highest_first(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    for job, (loss, precision) in enumerate({"ns": 0.2, "hinge": 0.6}.items()):
        fake_run(
            tmp_path / str(job),
            overrides=[f"loss={loss}"],
            config={"loss": {"name": loss}, "eval": {"primary": "precision"}},
            lines=[{"step": 500, "fid": 1.0, "precision": precision}],
        )
    assert report(tmp_path, capsys=capsys)[0] == 0
    md = (tmp_path / "compare.md").read_text()
    assert [r.split(" | ")[0] for r in rows(md)] == ["| hinge", "| ns"]
    assert "ranked by precision ↑" in md


def test_without_evaluations_no_run_is_ranked_by_divergence_estimates(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    """Two losses' divergence estimates are different quantities: shown, in sweep order (ns
    first though hinge's estimate is lower), and the header says how to get a score."""
    for job, (loss, divergence) in enumerate({"ns": 0.9, "hinge": 0.3}.items()):
        fake_run(
            tmp_path / str(job),
            overrides=[f"loss={loss}"],
            config={"loss": {"name": loss}},
            lines=[train_line(10, divergence=5.0), train_line(20, divergence=divergence)],
        )
    assert report(tmp_path, capsys=capsys)[0] == 0
    md = (tmp_path / "compare.md").read_text()
    assert md.splitlines()[2] == "| loss | seeds | stopped | divergence (last) | time s |"
    assert rows(md) == ["| ns | 1 | 0 | 0.9000 | 12 |", "| hinge | 1 | 0 | 0.3000 | 12 |"]
    assert "no comparable score, so not ranked" in md and "train.eval_every=N" in md
    assert "ranked by" not in md.replace("not ranked", "")
    assert 'class="num primary"' not in (tmp_path / "report.html").read_text()


def test_pix2pix_objectives_grouped_by_their_weights(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    """`make compare-pix2pix`: three run folders, each evaluated at its last step."""
    variants = {
        "l1": (["conditioning.adv_weight=0"], 0.0, 100.0, 30.0, 0.04),
        "gan": (["conditioning.l1_weight=0"], 1.0, 0.0, 66.0, 0.06),
        "gan_l1": ([], 1.0, 100.0, 19.0, 0.045),
    }
    for name, (overrides, adv, l1w, fid, l1) in variants.items():
        fake_run(
            tmp_path / name,
            overrides=["experiment=mnist_inpaint", *overrides, f"hydra.run.dir=/o/{name}"],
            choices={"experiment": "mnist_inpaint", "conditioning": "image"},
            config={"conditioning": {"name": "image", "adv_weight": adv, "l1_weight": l1w}},
            lines=[
                train_line(1500),
                {"step": 1500, "l1": l1, "psnr": 18.0, "ssim": 0.8, "fid": fid, "n_samples": 10000},
            ],
        )
    code, out, err = report(*(tmp_path / n for n in variants), "--out", tmp_path, capsys=capsys)
    assert code == 0, err
    assert last_line(out) == str(tmp_path / "report.html")
    md = (tmp_path / "compare.md").read_text()
    assert md.splitlines()[2] == (
        "| conditioning.adv_weight | conditioning.l1_weight | seeds | "
        "stopped | fid ↓ | l1 ↓ | psnr ↑ | ssim ↑ | time s |"
    )
    assert rows(md) == [
        "| 1.0 | 100.0 | 1 | 0 | 19.00 | 0.0450 | 18.00 | 0.8000 | 12 |",
        "| 0.0 | 100.0 | 1 | 0 | 30.00 | 0.0400 | 18.00 | 0.8000 | 12 |",
        "| 1.0 | 0.0 | 1 | 0 | 66.00 | 0.0600 | 18.00 | 0.8000 | 12 |",
    ]
    check_links(tmp_path / "report.html")


def test_pages_say_what_a_run_lacks(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    crashed = fake_run(
        tmp_path / "crashed",
        finished=False,
        pictures=(50, 100),
        lines=[
            train_line(50),
            train_line(100),
            {"step": 120, "alert": "d_wins", "seen": "D(x) 0.99", "advice": "lower optim.lr_d"},
            '{"step": 120, "loss_d": 0.3, "lo',
        ],
    )
    empty = fake_run(tmp_path / "empty", finished=False, pictures=())
    for run in (crashed, empty):
        code, out, err = report(run, capsys=capsys)
        assert code == 0, err
        assert last_line(out) == str(run / "report.html")
        check_links(run / "report.html")
    page = (crashed / "report.html").read_text()
    assert "No final samples: the run stopped at step 120 of 500." in page
    assert "1 line(s) of metrics.jsonl could not be read" in page
    assert "No evaluation: metrics.jsonl has no scores" in page
    assert "lower optim.lr_d" in page and "samples/step_50.png" in page
    assert page.index("step_50.png") < page.index("step_100.png")
    page = (empty / "report.html").read_text()
    assert "No metrics: metrics.jsonl holds no readable line" in page
    assert "the run stopped before its first logged step of 500" in page
    assert "No training pictures" in page


def test_a_resumed_run_is_read_with_its_last_segments_config(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    """`gancli train resume=RUN train.steps=800` trains to 800 in RUN; the config it trained
    with is the newest `.hydra/resumed-<time>/config.yaml`, not the first segment's (500)."""
    run = fake_run(tmp_path / "run", lines=[train_line(500), train_line(800)])
    for stamp, steps in (("2026-12-01_10-00-00", 700), ("2026-12-01_11-00-00", 800)):
        segment = run / ".hydra" / f"resumed-{stamp}"
        segment.mkdir()
        cfg = yaml.safe_load((run / ".hydra" / "config.yaml").read_text())
        cfg["train"]["steps"] = steps
        (segment / "config.yaml").write_text(yaml.safe_dump(cfg))
    code, out, err = report(run, capsys=capsys)
    assert code == 0, err
    page = Path(last_line(out)).read_text()
    assert "finished 800 steps" in page and "steps: 800" in page


def test_every_evaluation_of_the_run_is_shown_as_the_console_writes_it(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    """Training's last scores, `gancli eval`'s folders (eval/<time>/eval.json, newest first,
    with their memorization.png) and an older gancli's RUN/eval.json; a folder an eval left
    without results is no evaluation; no "No evaluation" beside them."""
    run = fake_run(
        tmp_path / "run",
        lines=[
            train_line(500),
            {
                "step": 500,
                "fid": 612.6482,
                "kid_mean": 407.316,
                "kid_std": 8.129,
                "modes_captured": 10,
                "modes_total": 10,
                "n_samples": 10000,
            },
        ],
    )
    (run / "eval.json").write_text(json.dumps({"fid": 30.5, "dataset": "digits"}))
    for stamp, fid in (("2026-01-01_00-00-00", 12.3456), ("2026-01-02_00-00-00", 9.87)):
        folder = run / "eval" / stamp
        folder.mkdir(parents=True)
        (folder / "eval.json").write_text(
            json.dumps(
                {
                    "fid": fid,
                    "hq_fraction": 0.7515,
                    "memorization_flag": False,
                    "n_samples": 500,
                    "checkpoint": str((run / "checkpoints" / "best.pt").resolve()),
                    "step": 400,
                    "primary": "fid",
                }
            )
        )
    Image.new("RGB", (20, 20)).save(run / "eval" / "2026-01-01_00-00-00" / "memorization.png")
    (run / "eval" / "2026-01-03_00-00-00").mkdir()  # an eval that failed before its results
    assert report(run, capsys=capsys)[0] == 0
    page = (run / "report.html").read_text()
    parsed = check_links(run / "report.html")
    assert "eval/2026-01-01_00-00-00/memorization.png" in parsed.images
    assert "eval/2026-01-02_00-00-00/eval.json" in parsed.links
    assert page.index("eval/2026-01-02_00-00-00") < page.index("eval/2026-01-01_00-00-00")
    assert "2026-01-03" not in page and "No evaluation" not in page
    assert "Scored checkpoints/best.pt: step 400, memorization_flag false, n_samples 500." in page
    assert "dataset digits." in page  # RUN/eval.json, which names no checkpoint
    assert '<td>fid ↓ (primary)</td><td class="num">12.35</td>' in page
    assert '<td>HQ fraction ↑</td><td class="num">0.7515</td>' in page  # not 75.2
    assert '<td>fid ↓ (primary)</td><td class="num">30.50</td>' in page  # RUN/eval.json
    # Training's last evaluation.
    assert '<td>fid ↓ (primary)</td><td class="num">612.6</td>' in page
    assert "407.3 ± 8.1" in page and "10 / 10" in page
    assert "n_samples 10000" in page


def test_pages_are_titled_by_the_run_and_show_grids_large(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    """The title names the run (a sweep job with its sweep; Hydra's date and time folders
    with the command), not the absolute path; grids at twice the width they had (340 px)."""
    sweep = tmp_path / "train" / "2026-12-04" / "15-28-11"
    for job in (0, 1):
        fake_run(
            sweep / str(job),
            overrides=[f"train.seed={job}"],
            config={"train": {"seed": job, "steps": 500}},
            lines=[train_line(500)],
        )
    assert report(sweep, capsys=capsys)[0] == 0
    job_page = Links()
    job_page.feed((sweep / "0" / "report.html").read_text())
    assert job_page.title == "train/2026-12-04/15-28-11/0" == job_page.h1
    assert job_page.widths["samples/final.png"] >= 2 * 340
    assert job_page.widths["samples/step_10.png"] >= 2 * 170
    compare_page = Links()
    compare_page.feed((sweep / "report.html").read_text())
    assert compare_page.title == "Comparison: train/2026-12-04/15-28-11"
    assert all(width >= 2 * 340 for width in compare_page.widths.values())


def test_every_panel_names_its_axes_and_a_single_point_shows_its_value(tmp_path: Path) -> None:
    """Training, evaluation and comparison figures: x and y labelled on each panel; a curve
    of one point (one evaluation, one preview) is a marker with its value beside it."""
    run = read_run(
        fake_run(
            tmp_path / "run",
            lines=[
                train_line(10),
                train_line(20),
                {"step": 20, "fid": 12.5, "preview_diversity": 0.23},
            ],
        )
    )
    figures = [
        plots.training_figure(run),
        plots.eval_figure(run),
        plots.compare_figure(group_runs([run], []), "fid"),
    ]
    panels = [ax for fig in figures for ax in fig.axes]
    assert len(panels) == 5 + 1 + 3
    for ax in panels:
        assert ax.get_xlabel() == "step" and ax.get_ylabel(), ax.get_title()
        for line in ax.get_lines():
            if len(line.get_xdata()) == 1:
                assert line.get_marker() not in (None, "", "None"), ax.get_title()
                assert ax.texts, f"{ax.get_title()}: a point without its value"
    fid = figures[1].axes[0]
    assert fid.get_ylabel() == "fid" and fid.texts[0].get_text() == "12.50 at step 20"


def test_help_imports_no_torch(tmp_path: Path) -> None:
    code = (
        "import sys\nfrom gancli.cli import main\ncode = main(['report', '--help'])\n"
        "sys.stderr.write(f'{code} TORCH={\"torch\" in sys.modules}')\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert "usage: gancli report" in proc.stdout and "--out" in proc.stdout
    assert proc.stderr.endswith("0 TORCH=False")


@pytest.mark.parametrize("kind", ["missing", "file", "empty"])
def test_a_path_that_is_no_run_is_one_line(
    kind: str, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    path = tmp_path / "here"
    if kind == "file":
        path.write_text("x")
    elif kind == "empty":
        (path / "sub").mkdir(parents=True)
    code, out, err = report(path, capsys=capsys)
    assert code == 1 and out == ""
    assert len(err.splitlines()) == 1
    assert err.startswith(f"gancli: error: {path}") and "expected a run folder" in err


def test_real_runs_are_read_as_training_wrote_them(
    tiny_run: Path, ring_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    """The reader against real run folders (copies: the fixtures are shared): an image run
    and a 2D run, whose pictures carry mode scores."""
    for name, run in {"image": tiny_run, "points": ring_run}.items():
        copy = shutil.copytree(run, tmp_path / name)
        code, out, err = report(copy, capsys=capsys)
        assert code == 0, err
        page = Path(last_line(out))
        parsed = check_links(page)
        assert "samples/final.png" in parsed.images
        assert "report/training.png" in parsed.images
        assert "No final samples" not in page.read_text()
    points = (tmp_path / "points" / "report.html").read_text()
    assert "reverse KL ↓ (primary)" in points and "report/eval.png" in points
    assert "No evaluation" in (tmp_path / "image" / "report.html").read_text()
