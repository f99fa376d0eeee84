"""CPU threads (`gancli.threads`): the `threads` keys, `auto`'s choice by measurement (with fake
timings: no test here times real code), its record in metrics.jsonl and eval.json, and the
time left in the training log line."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from gancli import threads
from gancli.config import validate
from gancli.data.points import sample_mixture
from gancli.errors import ConfigError
from gancli.threads import choose_threads, counts_to_try, measure, pick
from gancli.training.loop import Trainer
from gancli.training.monitor import eta_seconds, format_eta
from tests.conftest import TINY, compose_train, last_line, run_cli

CPU = torch.device("cpu")


@pytest.fixture(autouse=True)
def torch_threads() -> Iterator[None]:
    """The tests here set torch's thread count: the rest of the session keeps its own."""
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def fake_timer(times: dict[int, float], calls: list[int]) -> object:
    """`seconds_per_call` that returns `times[n]` for n threads and notes each call in
    `calls`; the probe is called once too, so that it runs as the real timer runs it."""

    def timer(probe: object) -> object:
        def seconds(n: int) -> float:
            calls.append(n)
            probe()  # type: ignore[operator]
            return times[n]

        return seconds

    return timer


@pytest.mark.parametrize("value", ["auto", "2"])
def test_threads_accepts_auto_or_a_count(value: str) -> None:
    validate(compose_train(f"train.threads={value}"))


@pytest.mark.parametrize("value", ["0", "many", "-1"])
def test_threads_refuses_other_values_in_one_line(value: str) -> None:
    with pytest.raises(ConfigError) as err:
        validate(compose_train(f"train.threads={value}"))
    assert str(err.value) == (
        f"train.threads={value} is not a valid value: must be auto or a "
        "whole number of threads >= 1"
    )


def test_sample_threads_refused_by_the_command_in_one_line(tmp_path: Path) -> None:
    proc = run_cli("sample", "ckpt=x", "sample.threads=many", cwd=tmp_path, check=False)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [
        "gancli: error: sample.threads=many is not a valid value: must be auto or a whole "
        "number of threads >= 1"
    ]


def test_counts_tried_double_up_to_the_ceiling() -> None:
    assert counts_to_try(1) == [1]
    assert counts_to_try(2) == [1, 2]
    assert counts_to_try(6) == [1, 2, 4, 6]
    assert counts_to_try(8) == [1, 2, 4, 8]


@pytest.mark.parametrize(
    ("times", "chosen"),
    [
        ({1: 0.010, 2: 0.005}, 2),  # more threads clearly faster
        ({1: 0.005, 2: 0.010}, 1),  # fewer faster (a small model, a busy core)
        ({1: 0.010, 2: 0.0095}, 1),  # within the margin: a tie goes to fewer
        ({1: 0.010, 2: 0.006, 4: 0.0058, 6: 0.004}, 6),  # 4 is no gain over 2, 6 is
    ],
)
def test_auto_picks_the_faster_and_fewer_on_a_tie(times: dict[int, float], chosen: int) -> None:
    calls: list[int] = []
    measured = measure(sorted(times), lambda n: calls.append(n) or times[n])
    assert measured == times
    assert pick(measured) == chosen
    # untimed calls, most threads first, then interleaved rounds
    assert calls[: 2 * len(times)] == sorted(times, reverse=True) * 2


def test_a_slow_call_at_the_ceiling_ends_the_measurement() -> None:
    calls: list[int] = []
    measured = measure([1, 2, 4], lambda n: calls.append(n) or 1.0)
    assert measured == {4: 1.0} and calls == [4]
    assert pick(measured) == 4


def test_auto_sets_what_it_measured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    monkeypatch.setenv("OMP_WAIT_POLICY", "PASSIVE")
    monkeypatch.setattr(threads, "seconds_per_call", fake_timer({1: 0.02, 2: 0.01}, []))
    choice = choose_threads("auto", "train.threads", CPU, lambda: lambda: None)
    assert choice.threads == 2 == torch.get_num_threads()
    assert choice.how == (
        "auto: 2 (measured 1: 20.0 ms, 2: 10.0 ms a call; ceiling 2, OMP_NUM_THREADS=2)"
    )


@pytest.mark.parametrize(
    ("env", "device", "threads_", "how"),
    [
        ({"OMP_NUM_THREADS": "1"}, "cpu", 1, "auto: 1 (OMP_NUM_THREADS=1)"),
        (
            {"OMP_NUM_THREADS": "2", "OMP_WAIT_POLICY": "ACTIVE"},
            "cpu",
            1,
            "auto: 1 (OMP_WAIT_POLICY",
        ),
        ({"OMP_NUM_THREADS": "2"}, "cuda", 2, "auto: 2 (OMP_NUM_THREADS=2; on cuda"),
    ],
)
def test_auto_measures_nothing_where_nothing_is_to_gain(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], device: str, threads_: int, how: str
) -> None:
    for key, value in env.items():
        monkeypatch.setenv(key, value)

    def no_probe() -> None:
        raise AssertionError("nothing should be measured")

    choice = choose_threads("auto", "train.threads", torch.device(device), no_probe)
    assert choice.threads == threads_ == torch.get_num_threads()
    assert choice.how.startswith(how)


def test_the_probe_leaves_the_run_as_it_was(tmp_path: Path) -> None:
    trainer = Trainer(compose_train(*TINY), tmp_path)
    before = {k: v.clone() for k, v in trainer.gan.G.state_dict().items()}
    before.update({f"D.{k}": v.clone() for k, v in trainer.gan.D.state_dict().items()})
    rng, data_rng = torch.get_rng_state(), trainer.data_rng.get_state()
    probe = trainer._thread_probe()
    assert probe is not None
    probe()
    probe()
    after = {
        **trainer.gan.G.state_dict(),
        **{f"D.{k}": v for k, v in trainer.gan.D.state_dict().items()},
    }
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert all(p.grad is None for p in trainer.gan.G.parameters())
    assert torch.equal(torch.get_rng_state(), rng)
    assert torch.equal(trainer.data_rng.get_state(), data_rng)


def test_a_run_records_the_threads_it_was_given_and_shows_the_time_left(tmp_path: Path) -> None:
    run = Path(
        last_line(
            run_cli(
                "train",
                *TINY,
                "train.steps=4",
                "train.log_every=2",
                "train.threads=2",
                cwd=tmp_path,
            ).stdout
        )
    )
    first = json.loads((run / "metrics.jsonl").read_text().splitlines()[0])
    assert (first["threads"], first["threads_choice"]) == (2, "given")
    assert torch.get_num_threads() == 2
    log = (run / "train.log").read_text()
    assert "train.threads: 2 threads, given" in log
    assert [line.endswith("  eta 0:00") for line in log.splitlines() if "step 4/4" in line] == [
        True
    ]  # nothing left at the last step


def test_auto_in_a_run_records_its_measurement(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    calls: list[int] = []
    monkeypatch.setattr(threads, "seconds_per_call", fake_timer({1: 0.004, 2: 0.005}, calls))
    run = Path(
        last_line(
            run_cli("train", *TINY, "train.steps=2", "train.log_every=2", cwd=tmp_path).stdout
        )
    )
    first = json.loads((run / "metrics.jsonl").read_text().splitlines()[0])
    assert first["threads"] == 1 == torch.get_num_threads()
    assert first["threads_choice"].startswith("auto: 1 (measured 1: 4.0 ms, 2: 5.0 ms")
    assert calls  # the run's own probe ran


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0:00"),
        (59.6, "1:00"),
        (125, "2:05"),
        (3599, "59:59"),
        (3725, "1:02:05"),
        (90_000, "25:00:00"),
        (math.nan, "?"),
        (math.inf, "?"),
        (-1, "?"),
    ],
)
def test_time_left_reads_as_a_clock(seconds: float, text: str) -> None:
    assert format_eta(seconds) == text


def test_time_left_at_the_pace_so_far() -> None:
    assert eta_seconds(10.0, 100, 300) == 30.0
    assert math.isnan(eta_seconds(0.0, 0, 300))


def test_eval_records_its_threads_in_eval_json(tmp_path: Path) -> None:
    path = tmp_path / "points.npz"
    np.savez(path, points=sample_mixture("ring8", 500, seed=0).rows.numpy())
    proc = run_cli("eval", f"samples={path}", "data=ring8", "eval.threads=2", cwd=tmp_path)
    result = json.loads(Path(last_line(proc.stdout)).read_text())
    assert (result["threads"], result["threads_choice"]) == (2, "given")
    assert "eval.threads: 2 threads, given" in proc.stderr


def test_sample_logs_its_threads(tiny_run: Path, tmp_path: Path) -> None:
    proc = run_cli("sample", f"ckpt={tiny_run}", "n=4", "sample.threads=2", cwd=tmp_path)
    assert "sample.threads: 2 threads, given" in proc.stderr
    assert torch.get_num_threads() == 2


def test_prepare_logs_its_threads(tmp_path: Path) -> None:
    images = tmp_path / "images"
    images.mkdir()
    for k in range(2):
        Image.new("L", (8, 8), 40 * k).save(images / f"{k}.png")
    proc = run_cli(
        "data",
        "prepare",
        f"source={images}",
        f"out={tmp_path / 'prepared'}",
        "threads=1",
        cwd=tmp_path,
    )
    assert "threads: 1 thread, given" in proc.stderr
    assert torch.get_num_threads() == 1
