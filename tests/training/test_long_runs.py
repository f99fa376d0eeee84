"""Long runs: resume in place, `resume=auto`, preemption signals, snapshots, wall-clock
checkpoints, and the one-line errors of a full disk or an unusable run folder."""

from __future__ import annotations

import json
import os
import random
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest
import torch
from omegaconf import OmegaConf

from gancli.checkpoint import load_checkpoint
from gancli.data.store.cache import prepare_into
from gancli.training.loop import Trainer
from gancli.training.resume import auto_without_folder
from gancli.training.stopping import INTERRUPTED, PREEMPTED
from tests.conftest import GANCLI, TINY, compose_train, last_line, run_cli, signal_when
from tests.launch.test_distributed import TORCHRUN


def steps_of(run: Path) -> list[int]:
    """The steps of the run's training lines."""
    return [
        r["step"]
        for x in (run / "metrics.jsonl").read_text().splitlines()
        if "loss_d" in (r := json.loads(x))
    ]


def same_players(a: Path, b: Path) -> None:
    x, y = load_checkpoint(a), load_checkpoint(b)
    assert x["step"] == y["step"]
    for part in ("G", "D", "G_ema"):
        for key, value in x[part].items():
            assert torch.equal(value, y[part][key]), f"{part}.{key} differs"


@pytest.fixture(scope="module")
def whole(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """20 steps in one go, the run every continuation is compared with."""
    cwd = tmp_path_factory.mktemp("whole")
    return Path(last_line(run_cli("train", *TINY, cwd=cwd).stdout))


def test_resume_continues_in_the_run_folder(whole: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    run_cli("train", *TINY, "train.steps=10", f"hydra.run.dir={run}", cwd=tmp_path)
    # What a crash after the step-10 checkpoint leaves: lines past it, the last one cut short.
    with open(run / "metrics.jsonl", "a", encoding="utf-8") as f:
        f.write(json.dumps({"step": 15, "loss_d": 1.0}) + "\n" + '{"step": 20, "lo')
    proc = run_cli("train", f"resume={run}", "train.steps=20", cwd=tmp_path)
    assert Path(last_line(proc.stdout)) == run  # one run, one folder
    assert steps_of(run) == steps_of(whole) == [5, 10, 15, 20]  # each step once
    same_players(whole, run)
    assert sorted(p.name for p in (run / "samples").iterdir()) == [
        "final.png",
        "step_10.png",
        "step_20.png",
    ]
    log = (run / "train.log").read_text()
    assert log.count("training dcgan on digits") == 2 and "resumed from" in log  # appended
    assert "step 15/20" in log  # progress out of the whole run, not of the segment
    segments = list((run / ".hydra").glob("resumed-*"))
    assert len(segments) == 1 and (segments[0] / "overrides.yaml").is_file()
    # The config this segment trained with: the checkpoint's, with this command line's keys.
    segment_cfg = OmegaConf.load(segments[0] / "config.yaml")
    assert segment_cfg.train.steps == 20 and segment_cfg.data.resolution == 8
    assert (run / ".hydra" / "config.yaml").is_file()  # the first segment's, kept


def test_resume_into_a_new_folder_on_request(tiny_run: Path, tmp_path: Path) -> None:
    proc = run_cli(
        "train", f"resume={tiny_run}", "resume_in_place=false", "train.steps=22", cwd=tmp_path
    )
    new = Path(last_line(proc.stdout))
    assert new != tiny_run and load_checkpoint(new)["step"] == 22
    assert load_checkpoint(tiny_run)["step"] == 20  # the original is left as it was


def test_a_refused_resume_leaves_the_run_as_it_was(tiny_run: Path, tmp_path: Path) -> None:
    before = sorted(p.relative_to(tiny_run) for p in tiny_run.rglob("*"))
    proc = run_cli("train", f"resume={tiny_run}", "loss=hinge", cwd=tmp_path, check=False)
    assert proc.returncode == 1 and "cannot change loss when resuming" in proc.stderr
    assert sorted(p.relative_to(tiny_run) for p in tiny_run.rglob("*")) == before


def test_resume_auto_starts_continues_and_finishes(whole: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    args = [*TINY, "resume=auto", f"hydra.run.dir={run}"]
    run_cli("train", *args, "train.steps=10", cwd=tmp_path)  # empty folder: a fresh run
    assert load_checkpoint(run)["step"] == 10
    run_cli("train", *args, cwd=tmp_path)  # the same command, a bigger budget: continues
    same_players(whole, run)
    assert steps_of(run) == [5, 10, 15, 20]
    again = run_cli("train", *args, cwd=tmp_path)  # finished: nothing to do
    assert again.returncode == 0 and "nothing to do" in again.stderr
    assert Path(last_line(again.stdout)) == run and steps_of(run) == [5, 10, 15, 20]
    # The continuation is a segment of its own; the idle relaunch left none.
    segments = list((run / ".hydra").glob("resumed-*"))
    assert len(segments) == 1 and OmegaConf.load(segments[0] / "config.yaml").train.steps == 20
    changed = run_cli("train", *args, "loss=hinge", cwd=tmp_path, check=False)
    assert changed.returncode == 1
    assert "resume=auto" in changed.stderr and "loss.name=ns" in changed.stderr


def test_resume_auto_without_a_run_folder_names_the_run_it_would_continue(tiny_run: Path) -> None:
    """Each launch gets a new time-stamped folder: resume=auto never starts a new run there,
    it names the newest unfinished run of the same config both ways, or says there is none."""
    cwd = tiny_run.parents[3]  # tiny_run is outputs/train/<date>/<time> below it
    before = sorted(cwd.rglob("*"))
    run = tiny_run.relative_to(cwd)
    more = run_cli("train", *TINY, "train.steps=22", "resume=auto", cwd=cwd, check=False)
    assert more.returncode == 1 and more.stderr.splitlines() == [
        f"gancli: error: resume=auto needs the run folder: add hydra.run.dir={run} (the newest "
        f"unfinished run of this config, at step 20 of 22) or give resume={run}"
    ]
    assert sorted(cwd.rglob("*")) == before  # no run started, nothing written
    runs = str(cwd / "outputs" / "train" / "*" / "*")
    for other in (["model.width=16", "train.steps=22"], []):  # another model; 20 of 20 done
        refusal = auto_without_folder(compose_train(*TINY, *other), runs)
        assert str(refusal) == (
            f"resume=auto found no unfinished run of this config in {runs} to continue: drop "
            "resume=auto to start a new run, or give resume=RUN (or hydra.run.dir=RUN) for "
            "the run to continue"
        )


@pytest.mark.parametrize(
    "args, line",
    [
        (
            ["model.width=16", "data.resolution=16"],
            "cannot change what the run is when resuming: data.resolution: checkpoint 8, now 16; "
            "model.width: checkpoint 8, now 16; drop those keys, or start a new run without resume",
        ),
        (
            ["train.steps=10"],
            "train.steps=10 is below step 20, which {run} has reached: give "
            "train.steps above 20 to train on",
        ),
        (["train.steps=20"], None),  # finished already: nothing to do
    ],
    ids=["changed-model", "steps-below", "finished"],
)
def test_a_refused_or_idle_resume_leaves_the_run_as_it_was(
    args: list[str], line: str | None, tiny_run: Path, tmp_path: Path
) -> None:
    before = sorted(p.relative_to(tiny_run) for p in tiny_run.rglob("*"))
    proc = run_cli("train", f"resume={tiny_run}", *args, cwd=tmp_path, check=False)
    if line is None:
        assert proc.returncode == 0 and "nothing to do" in proc.stderr
    else:
        assert proc.returncode == 1
        assert proc.stderr.splitlines() == ["gancli: error: " + line.format(run=tiny_run)]
    # No .hydra/resumed-* record of a segment that trained nothing.
    assert sorted(p.relative_to(tiny_run) for p in tiny_run.rglob("*")) == before


def test_preemption_signal_checkpoints_and_resume_auto_is_exact(tmp_path: Path) -> None:
    """The real SIGTERM through the OS, once the process has logged step 5: it finishes the
    step, checkpoints, exits with the preempted status; the relaunch continues bit for bit.
    (SIGUSR1 takes the same path: `test_each_signal_has_its_exit_status`.)"""
    signum = signal.SIGTERM
    run = tmp_path / "run"
    args = [
        *TINY,
        "train.steps=150",
        "train.ckpt_every=1000",
        "train.sample_every=1000",
        "resume=auto",
        f"hydra.run.dir={run}",
    ]
    status, err = signal_when(
        [str(GANCLI), "train", *args], tmp_path, r"step\s+5/150", lambda p: p.send_signal(signum)
    )
    assert status == PREEMPTED, err
    assert "Traceback" not in err and signal.Signals(signum).name in err
    stopped = load_checkpoint(run)["step"]
    assert 5 <= stopped < 150
    run_cli("train", *args, cwd=tmp_path)
    straight = tmp_path / "straight"
    run_cli("train", *args[:-1], f"hydra.run.dir={straight}", cwd=tmp_path)
    same_players(straight, run)
    assert steps_of(run) == steps_of(straight)


def test_kill_9_while_checkpointing_always_leaves_a_loadable_checkpoint(tmp_path: Path) -> None:
    """Checkpoints every step, killed at seeded random moments: each time the last checkpoint
    loads, and the next start removes the temporary file a killed write left."""
    rng = random.Random(0)
    run = tmp_path / "run"
    args = [
        *TINY,
        "train.steps=100000",
        "train.ckpt_every=1",
        "train.sample_every=100000",
        "resume=auto",
        f"hydra.run.dir={run}",
    ]
    steps = []
    for _ in range(2):
        proc = subprocess.Popen(
            [str(GANCLI), "train", *args],
            cwd=tmp_path,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 60
        while not (run / "checkpoints" / "last.pt").is_file() and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(rng.uniform(0.2, 1.5))
        proc.kill()
        proc.wait()
        steps.append(load_checkpoint(run)["step"])
    assert steps == sorted(steps) and steps[0] >= 1  # each relaunch continued the last one
    (run / "checkpoints" / ".last.pt.tmp").write_bytes(b"half a checkpoint")
    run_cli(
        "train",
        *args[:-6],
        "train.steps=" + str(steps[-1] + 1),
        "resume=auto",
        f"hydra.run.dir={run}",
        cwd=tmp_path,
    )
    assert not list((run / "checkpoints").glob(".*.tmp"))


def test_snapshots_rotate(tmp_path: Path) -> None:
    run = tmp_path / "run"
    run_cli(
        "train",
        *TINY,
        "train.ckpt_every=5",
        "train.keep_checkpoints=2",
        f"hydra.run.dir={run}",
        cwd=tmp_path,
    )
    names = sorted(p.name for p in (run / "checkpoints").iterdir())
    assert names == ["last.pt", "step_15.pt", "step_20.pt"]
    assert load_checkpoint(run / "checkpoints" / "step_15.pt")["step"] == 15


def test_ckpt_minutes_checkpoints_by_the_clock(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = compose_train(
        *TINY,
        "train.steps=20",
        "train.ckpt_every=1000",
        "train.ckpt_minutes=1.5",
        "train.log_every=5",
    )
    (tmp_path / "run").mkdir()  # Hydra makes it for the command
    trainer = Trainer(cfg, tmp_path / "run")
    now = [0.0]

    def clock() -> float:  # one minute passes per logged step
        return now[0]

    saved = []
    write = trainer._write_checkpoint
    monkeypatch.setattr(
        trainer,
        "_write_checkpoint",
        lambda path, states: (saved.append(trainer.step), write(path, states)),
    )
    record = trainer.train_step

    def step(measure: bool) -> dict:
        if measure:
            now[0] += 60
        return record(measure)

    trainer.clock = clock
    monkeypatch.setattr(trainer, "train_step", step)
    trainer.run()
    # Logged steps 5, 10, 15, 20 at minutes 1, 2, 3, 4: due at 10 (2 ≥ 1.5) and 20, plus the
    # final checkpoint at 20.
    assert saved == [10, 20, 20]


def test_a_full_disk_is_one_line_and_keeps_the_last_good_checkpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = tmp_path / "run"
    save = torch.save
    calls = []

    def full_disk_after_the_first(obj: object, f: object) -> None:
        calls.append(1)
        if len(calls) > 1:
            raise RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos")
        save(obj, f)

    monkeypatch.setattr(torch, "save", full_disk_after_the_first)
    proc = run_cli("train", *TINY, f"hydra.run.dir={run}", cwd=tmp_path, check=False)
    monkeypatch.undo()
    assert proc.returncode == 1
    (line,) = [x for x in proc.stderr.splitlines() if x.startswith("gancli: error")]
    assert str(run / "checkpoints" / "last.pt") in line and "free on its disk" in line
    assert "the last good checkpoint" in line and "(step 10), is intact" in line
    assert load_checkpoint(run)["step"] == 10
    assert not list((run / "checkpoints").glob(".*.tmp"))


def test_a_run_folder_that_is_a_file_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "taken").write_text("a file")
    proc = run_cli("train", *TINY, "hydra.run.dir=taken", cwd=tmp_path, check=False)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [
        "gancli: error: cannot make the run folder taken: File exists (a file is in the way, "
        "or the folder is not writable); choose another hydra.run.dir"
    ]


@pytest.mark.parametrize(
    "signum, status",
    [
        (signal.SIGINT, INTERRUPTED),
        (signal.SIGTERM, PREEMPTED),
        (signal.SIGUSR1, PREEMPTED),
        (signal.SIGUSR2, PREEMPTED),
    ],
)
def test_each_signal_has_its_exit_status(signum: int, status: int) -> None:
    from gancli.training.stopping import StopRequest

    handler = signal.getsignal(signum)
    with StopRequest() as stop:
        signal.raise_signal(signum)  # handled: the process lives on
        with pytest.raises(KeyboardInterrupt):  # a second one aborts at once
            signal.raise_signal(signum)
    assert stop.requested and stop.exit_status == status
    assert signal.getsignal(signum) is handler  # given back
    assert OmegaConf.select(compose_train(), "train.keep_checkpoints") == 0


def _children(pid: int) -> list[int]:
    """The processes whose parent is `pid` (Linux /proc)."""
    kids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            kids.append(int(stat.parent.name))
    return kids


@pytest.mark.skipif(not TORCHRUN.exists(), reason="torchrun is not installed beside python")
def test_a_signal_to_one_torchrun_process_stops_all_with_one_checkpoint(tmp_path: Path) -> None:
    """Two processes streaming one prepared file (each its own shard and index stream); a
    SIGTERM to one of them stops both at the same step, with one checkpoint."""
    prepared = prepare_into(
        OmegaConf.create({"name": "digits", "resolution": 8}), tmp_path / "digits8"
    )
    args = [a for a in TINY if not a.startswith(("train.batch_size", "train.steps", "data."))]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [
        str(TORCHRUN),
        "--standalone",
        "--nproc_per_node=2",
        "-m",
        "gancli",
        "train",
        *args,
        "train.batch_size=16",
        "data=prepared",
        f"data.root={prepared}",
        "data.placement=stream",
        "train.steps=100000",
        "train.ckpt_every=100000",
        "hydra.run.dir=run",
    ]

    def one_of_two(torchrun: subprocess.Popen) -> None:
        workers = _children(torchrun.pid)
        assert len(workers) == 2, workers
        os.kill(max(workers), signal.SIGTERM)  # one of the two processes only

    _, err = signal_when(cmd, tmp_path, r"step\s+5/100000", one_of_two, env=env)
    stopped = re.findall(r"stopped at step (\d+) of", err)
    assert stopped and len(set(stopped)) == 1, err  # every process at the same step
    ckpt = load_checkpoint(tmp_path / "run")
    assert ckpt["step"] == int(stopped[0])
    streams = [r["stream"] for r in ckpt["rng_ranks"]]
    assert len(streams) == 2 and not torch.equal(*streams)  # each rank its own index stream
    # Relaunched with resume=auto, both processes continue from rank 0's folder.
    more = int(stopped[0]) + 5
    relaunch = [
        *cmd[:-3],
        f"train.steps={more}",
        "train.ckpt_every=100000",
        "hydra.run.dir=run",
        "resume=auto",
    ]
    done = subprocess.run(
        relaunch, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=180
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert load_checkpoint(tmp_path / "run")["step"] == more


def test_a_launchers_own_handler_runs_after_the_checkpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As submitit does: its handler of SIGUSR2 requeues the job. gancli's takes the signal
    first, and hands it over once the checkpoint is written."""
    calls = []
    previous = signal.signal(
        signal.SIGUSR2,
        lambda signum, frame: calls.append(load_checkpoint(tmp_path / "run")["step"]),
    )
    try:
        train_step = Trainer.train_step

        def preempted_during_step_7(self: Trainer, measure: bool) -> dict:
            stats = train_step(self, measure)
            if self.step == 6:
                signal.raise_signal(signal.SIGUSR2)
            return stats

        monkeypatch.setattr(Trainer, "train_step", preempted_during_step_7)
        proc = run_cli(
            "train",
            *TINY,
            "train.steps=100000",
            "train.ckpt_every=100000",
            "train.log_every=1",
            f"hydra.run.dir={tmp_path / 'run'}",
            cwd=tmp_path,
            check=False,
        )
    finally:
        signal.signal(signal.SIGUSR2, previous)
    assert proc.returncode == PREEMPTED
    assert calls == [7]  # called once, with the step-7 checkpoint already on disk
