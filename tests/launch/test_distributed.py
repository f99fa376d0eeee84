"""Training on several processes: sharded sampling, what each rank's command line becomes, the
collectives, gradient averaging through the gradient penalty's double backward, and a real
2-process `torchrun ... -m gancli train` on the CPU (gloo) that writes one run folder and
resumes, and two torchrun nodes (`--nnodes=2`) on this machine that train one run."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.multiprocessing as mp
from omegaconf import OmegaConf
from torch import nn

from gancli.checkpoint import load_checkpoint
from gancli.commands.hydra_seam import sweeps
from gancli.data import DataInfo, TensorData
from gancli.errors import GancliError
from gancli.launch.torchrun import torchrun_overrides
from gancli.losses import build_loss
from gancli.training.critic import CriticView
from gancli.training.distributed import Distributed
from tests.conftest import TINY, run_cli

TORCHRUN = Path(sys.executable).with_name("torchrun")


def _data(n: int) -> TensorData:
    info = DataInfo("toy", "points", (2,), 1)
    return TensorData(
        info,
        torch.arange(n, dtype=torch.float32)[:, None].repeat(1, 2),
        torch.zeros(n, dtype=torch.long),
    )


def test_shards_are_disjoint_and_cover_the_data() -> None:
    data = _data(10)
    seen = []
    for k in range(3):
        idx = data.shard(k, 3).indices(400, torch.Generator().manual_seed(k))
        assert set(idx.tolist()) == set(range(k, 10, 3))
        seen.append(set(idx.tolist()))
    assert set().union(*seen) == set(range(10))
    # One shard of one is the whole set, drawn exactly as before sharding existed.
    whole = data.shard(0, 1).indices(50, torch.Generator().manual_seed(1))
    assert torch.equal(whole, torch.randint(10, (50,), generator=torch.Generator().manual_seed(1)))
    assert data.shard(2, 3).part == (2, 3)


def test_bad_shard_is_refused() -> None:
    with pytest.raises(GancliError, match="shard 3 of 3"):
        _data(10).shard(3, 3)


def test_each_rank_command_line(monkeypatch: pytest.MonkeyPatch) -> None:
    args = ["train.steps=5", "hydra.run.dir=runs/a"]
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    assert torchrun_overrides("train", args, False) == args  # not under torchrun: unchanged
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "0")
    assert torchrun_overrides("train", args, False) == args  # rank 0 keeps the run folder
    with pytest.raises(ValueError, match="sample runs in one process"):
        torchrun_overrides("sample", ["ckpt=x"], False)
    for sweep in (["-m", "train.seed=0,1"], ["hparams_search=optuna"], ["hydra.mode=MULTIRUN"]):
        with pytest.raises(ValueError, match="sweep"):
            torchrun_overrides("train", sweep, sweeps(sweep))
    assert not sweeps(["hparams_search=null"])
    monkeypatch.setenv("RANK", "1")
    other = torchrun_overrides("train", args, False)
    assert "train.steps=5" in other and "hydra.run.dir=runs/a" not in other
    scratch = Path(next(a for a in other if a.startswith("hydra.run.dir=")).split("=", 1)[1])
    assert scratch.is_dir() and "gancli-rank1-" in scratch.name
    assert "hydra.output_subdir=null" in other


def test_one_process_collectives_are_identities() -> None:
    single = Distributed()
    stats = {"a": torch.tensor(2.0)}
    assert single.mean(stats) is stats
    assert single.any(True, torch.device("cpu")) and not single.any(False, torch.device("cpu"))
    assert single.gather(3) == [3] and single.broadcast(4) == 4 and single.from_main(lambda: 5) == 5
    assert single.should_stop(True, False, torch.device("cpu"))  # one process stops at once
    module = nn.Linear(2, 2)
    assert single.wrap(module, torch.device("cpu")) is module


def test_sync_batchnorm_is_refused_on_the_cpu() -> None:
    with pytest.raises(GancliError, match="sync_batchnorm needs CUDA"):
        Distributed.sync_batchnorm(nn.BatchNorm2d(3), torch.device("cpu"))


@pytest.mark.parametrize("visible, device", [(1, 0), (4, 3)])
def test_each_rank_takes_its_gpu_or_the_only_one_it_sees(
    visible: int, device: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """LOCAL_RANK=3's GPU: cuda:3 of the machine's 4, or cuda:0 when a scheduler shows each
    task its own GPU only (Slurm's --gpus-per-task); made the current device either way."""
    current: list[torch.device] = []
    monkeypatch.setattr(torch.cuda, "device_count", lambda: visible)
    monkeypatch.setattr(torch.cuda, "set_device", current.append)
    monkeypatch.setattr(torch.distributed, "is_initialized", lambda: True)
    monkeypatch.setenv("WORLD_SIZE", "4")
    monkeypatch.setenv("RANK", "3")
    monkeypatch.setenv("LOCAL_RANK", "3")
    dist, chosen = Distributed.start(torch.device("cuda", 0))
    assert (dist.rank, dist.world_size) == (3, 4)
    assert chosen == torch.device("cuda", device) and current == [chosen]
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    with pytest.raises(GancliError, match="rank 3 wants GPU 3 but 2 are visible"):
        Distributed.start(torch.device("cuda", 0))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _gp_worker(rank: int, world: int, port: int, out: str) -> None:
    """One rank: a WGAN-GP step of a small critic through DDP, compared with the mean of the
    ranks' local gradients computed without synchronisation."""
    os.environ.update(
        WORLD_SIZE=str(world),
        RANK=str(rank),
        LOCAL_RANK=str(rank),
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(port),
    )
    torch.set_num_threads(1)
    group, device = Distributed.start(torch.device("cpu"))
    torch.manual_seed(0)  # the same initial weights on every rank
    D = nn.Sequential(nn.Linear(2, 16), nn.LeakyReLU(0.2), nn.Linear(16, 1))
    wrapped = group.wrap(D, device)
    critic = CriticView(D, call=wrapped)
    loss = build_loss(
        OmegaConf.create({"name": "wgan-gp", "gp_weight": 10.0, "r1_gamma": 0.0, "r2_gamma": 0.0})
    )
    data = torch.Generator().manual_seed(100 + rank)  # different data on each rank
    real, fake = torch.randn(8, 2, generator=data), torch.randn(8, 2, generator=data) + 2

    def d_loss() -> torch.Tensor:
        torch.manual_seed(7 + rank)  # the same interpolation points both times
        return loss.discriminator_step(critic, real, fake).loss

    with wrapped.no_sync():
        d_loss().backward()
    local = torch.cat([p.grad.flatten() for p in D.parameters()])
    mean = local.clone()
    torch.distributed.all_reduce(mean)
    mean /= world
    D.zero_grad()
    d_loss().backward()
    synced = torch.cat([p.grad.flatten() for p in D.parameters()])
    stats = group.mean({"x": torch.tensor(float(rank))})
    rows = group.gather_rows(torch.arange(rank, 7, world)[:, None])  # items rank, rank+2, ...
    own = nn.Linear(2, 2)
    with torch.no_grad():
        own.weight.fill_(rank + 1.0)
    group.share_weights(own)
    computed: list[int] = []
    chosen = group.from_main(lambda: computed.append(rank) or f"chosen on {rank}")
    result = {
        "rank": rank,
        "synced_equals_mean": bool(torch.allclose(synced, mean, atol=1e-6)),
        "local_differs": bool(not torch.allclose(local, mean)),
        "mean_stat": float(stats["x"]),
        "any": group.any(rank == 1, device),
        "stop_logged": group.should_stop(rank == 1, True, device),
        "stop_between": group.should_stop(True, False, device),
        "gather": group.gather(rank * 10),
        "broadcast": group.broadcast(f"from {rank}"),
        "rows": None if rows is None else rows.flatten().tolist(),
        "shared": float(own.weight.mean()),
        "from_main": chosen,
        "computed": computed,
    }
    Path(out, f"{rank}.json").write_text(json.dumps(result))
    torch.distributed.destroy_process_group()


def test_ddp_averages_gradients_through_the_gradient_penalty(tmp_path: Path) -> None:
    """DDP documents no support for torch.autograd.grad; the penalty's double backward still
    feeds the parameters' gradient accumulators once per backward pass, so the averaged
    gradient must be exactly the mean of the ranks' own gradients."""
    mp.spawn(_gp_worker, args=(2, _free_port(), str(tmp_path)), nprocs=2, join=True)
    results = [json.loads((tmp_path / f"{r}.json").read_text()) for r in range(2)]
    for r in results:
        assert r["synced_equals_mean"] and r["local_differs"]
        assert r["mean_stat"] == pytest.approx(0.5)
        assert r["any"] is True
        assert r["stop_logged"] is True and r["stop_between"] is False  # ranks agree at logs
        assert r["gather"] == [0, 10]
        assert r["broadcast"] == "from 0"
        assert r["shared"] == 1.0  # rank 0's weights everywhere
        assert r["from_main"] == "chosen on 0"  # computed on rank 0 alone, sent to every rank
    assert results[0]["computed"] == [0] and results[1]["computed"] == []
    assert results[0]["rows"] == list(range(7)) and results[1]["rows"] is None


def _torchrun(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        [str(TORCHRUN), "--standalone", "--nproc_per_node=2", "-m", "gancli", "train", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


@pytest.mark.skipif(not TORCHRUN.exists(), reason="torchrun is not installed beside python")
def test_torchrun_two_processes_write_one_run_folder_and_resume(tmp_path: Path) -> None:
    args = [a for a in TINY if not a.startswith("train.batch_size")]
    proc = _torchrun(
        *args,
        "train.batch_size=16",
        "loss=wgan-gp",
        "hydra.run.dir=runs/first",
        "logger=tensorboard",
        cwd=tmp_path,
    )
    run = tmp_path / "runs" / "first"
    assert proc.stdout.strip().splitlines() == [str(run)]  # rank 0 alone prints it
    assert sorted(p.name for p in tmp_path.iterdir()) == ["runs"]  # nothing else written here
    assert [p.name for p in (tmp_path / "runs").iterdir()] == ["first"]
    assert "2 processes (cpu)" in (run / "train.log").read_text()
    lines = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    assert [x["step"] for x in lines if "loss_d" in x] == [5, 10, 15, 20]  # once, not twice
    assert [x["step"] for x in lines if "preview_diversity" in x] == [10, 20]
    events = list((run / "tensorboard").iterdir())  # rank 0 alone logs
    assert len(events) == 1 and events[0].name.startswith("events.out.tfevents")
    assert (run / "samples" / "final.png").is_file()
    ckpt = load_checkpoint(run / "checkpoints" / "last.pt")
    assert ckpt["step"] == 20
    data_states = [r["data"] for r in ckpt["rng_ranks"]]
    assert len(data_states) == 2 and not torch.equal(*data_states)  # each rank its own stream
    assert not any(k.startswith("module.") for k in ckpt["G"])  # plain keys, as one process

    # Resumed with evaluation: each process generates half of the samples.
    scoring = ["eval.n=101", "eval.metrics=[fid]"]
    _torchrun(
        f"resume={run}",
        "train.steps=30",
        "train.eval_every=10",
        *scoring,
        "hydra.run.dir=runs/resumed",
        cwd=tmp_path,
    )
    resumed = tmp_path / "runs" / "resumed"
    lines = [json.loads(x) for x in (resumed / "metrics.jsonl").read_text().splitlines()]
    assert [x["step"] for x in lines if "loss_d" in x] == [25, 30]
    evals = [x for x in lines if "fid" in x]
    assert [x["step"] for x in evals] == [30]
    assert load_checkpoint(resumed / "checkpoints" / "last.pt")["step"] == 30
    # The shares, put back in order, are the samples one process draws from that checkpoint.
    run_cli("eval", f"ckpt={resumed}", *scoring, "hydra.run.dir=alone", cwd=tmp_path)
    alone = json.loads((tmp_path / "alone" / "eval.json").read_text())
    assert evals[0]["fid"] == pytest.approx(alone["fid"], rel=1e-4)


def _node(rank: int, port: int, *args: str, cwd: Path, env: dict[str, str]) -> subprocess.Popen:
    """One torchrun agent of a two-node job, each node one process, meeting at a c10d
    rendezvous on this machine: what `--nnodes=2` does across two machines."""
    cmd = [
        str(TORCHRUN),
        "--nnodes=2",
        "--nproc_per_node=1",
        f"--node-rank={rank}",
        "--rdzv-backend=c10d",
        f"--rdzv-endpoint=127.0.0.1:{port}",
        "--rdzv-id=two-nodes",
        "-m",
        "gancli",
        "train",
        *args,
    ]
    return subprocess.Popen(
        cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


@pytest.mark.skipif(not TORCHRUN.exists(), reason="torchrun is not installed beside python")
def test_two_nodes_train_one_run_and_it_resumes_on_one(tmp_path: Path) -> None:
    """Two torchrun nodes train one run: one run folder, metrics written once, one prepared copy
    of the data in the cache they share (the ranks take turns on its lock). The run then resumes
    in place on one node of one process, with fresh random streams and a warning saying why."""
    cache = tmp_path / "cache"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "GANCLI_CACHE": str(cache)}
    args = [
        *TINY,
        "train.log_every=2",
        "train.ckpt_every=2",
        "train.sample_every=4",
        "train.steps=4",
        "hydra.run.dir=run",
    ]
    port = _free_port()
    nodes = [_node(rank, port, *args, cwd=tmp_path, env=env) for rank in (0, 1)]
    outs = [node.communicate(timeout=300) for node in nodes]
    for node, (_, err) in zip(nodes, outs, strict=True):
        assert node.returncode == 0, err[-3000:]
    run = tmp_path / "run"
    assert [o.strip() for o, _ in outs] == [str(run), ""]  # rank 0 alone prints the run
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache", "run"]
    assert "2 processes (cpu)" in (run / "train.log").read_text()
    lines = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    assert [x["step"] for x in lines if "loss_d" in x] == [2, 4]  # one writer
    ckpt = load_checkpoint(run / "checkpoints" / "last.pt")
    assert ckpt["step"] == 4 and len(ckpt["rng_ranks"]) == 2
    # One copy and the lock the nodes took turns on: no partial or replaced copy left behind.
    copy = next((cache / "data").glob("digits-*"))
    assert sorted(p.name for p in (cache / "data").iterdir()) == [f".{copy.name}.lock", copy.name]

    resumed = run_cli("train", f"resume={run}", "train.steps=6", cwd=tmp_path)
    assert resumed.stdout.strip().splitlines()[-1] == str(run)  # in place
    assert "written by 2 process(es), this run has 1: random streams start afresh" in resumed.stderr
    assert load_checkpoint(run / "checkpoints" / "last.pt")["step"] == 6
    lines = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    assert [x["step"] for x in lines if "loss_d" in x] == [2, 4, 6]
