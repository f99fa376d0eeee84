"""Training on several processes with torch.distributed, as `torchrun` starts them:

    torchrun --standalone --nproc_per_node=N -m gancli train ...

Each process (rank) trains on its share of `train.batch_size` (the global batch, as in StyleGAN2's
`--batch`, so a config means the same optimisation on 1 or N devices), drawn from its own shard
of the training set with its own random streams. G and D are wrapped in DistributedDataParallel,
which averages their gradients across ranks in the backward pass. Rank 0 alone writes the run
folder; the logged statistics are averaged over ranks first. Without torchrun's environment this
is a no-op and the loop is the plain single-process one.
"""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import torch
import torch.distributed as dist
from torch import nn

from gancli.errors import GancliError
from gancli.launch.torchrun import local_rank, this_rank, world_size

T = TypeVar("T")


def leave_process_group() -> None:
    """Leave the process group, if this process joined one (also after an error)."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


@dataclass(frozen=True)
class Distributed:
    """This process's place in the group: rank, world size and the device it trains on."""

    rank: int = 0
    world_size: int = 1

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        """Rank 0: the process that writes the run folder."""
        return self.rank == 0

    @classmethod
    def start(cls, device: torch.device) -> tuple[Distributed, torch.device]:
        """Join the process group torchrun describes in the environment, if any, and return
        the device this rank trains on: `cuda:LOCAL_RANK` on GPUs (NCCL), the CPU otherwise
        (gloo). A rank that sees one GPU only trains on it: a scheduler that gives each task
        its own GPU (Slurm's `--gpus-per-task`) shows it as cuda:0 whatever the LOCAL_RANK."""
        world = world_size()
        if world <= 1:
            return cls(), device
        rank, local, count = this_rank(), local_rank(), torch.cuda.device_count()
        if device.type == "cuda":
            if count > 1 and local >= count:
                raise GancliError(
                    f"rank {rank} wants GPU {local} but {count} are visible: "
                    "lower --nproc_per_node to the number of GPUs"
                )
            device = torch.device("cuda", local if count > 1 else 0)
            torch.cuda.set_device(device)
        if not dist.is_initialized():
            dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
        return cls(rank, world), device

    # -- the players ----------------------------------------------------------------------------

    def wrap(self, module: nn.Module, device: torch.device) -> nn.Module:
        """`module` inside DistributedDataParallel (which also makes every rank start from rank
        0's weights); the module itself when training on one process.

        Unused parameters are not searched for (`find_unused_parameters=False`): every player
        here uses all its weights in each backward pass, and the search walks the graph every
        step. Buffers (batch norm's running statistics, spectral norm's power-iteration
        vectors) are not broadcast at each forward pass, as in StyleGAN2-ADA: D is called
        several times a step and only rank 0's copies are ever saved."""
        if not self.enabled:
            return module
        ddp = nn.parallel.DistributedDataParallel
        # Newer torch renamed the switch (and deprecated the old name); older has only that.
        no_buffer_sync: dict[str, Any] = (
            {"forward_sync_buffers": False}
            if "forward_sync_buffers" in inspect.signature(ddp).parameters
            else {"broadcast_buffers": False}
        )
        ids = [device.index] if device.type == "cuda" else None
        return ddp(module, device_ids=ids, **no_buffer_sync)

    @staticmethod
    def sync_batchnorm(module: nn.Module, device: torch.device) -> nn.Module:
        """Batch norm layers that normalise over the global batch, not each rank's share."""
        if device.type != "cuda":
            raise GancliError(
                "train.sync_batchnorm needs CUDA devices (torch's SyncBatchNorm "
                "has no CPU kernel); leave it off on the CPU"
            )
        return nn.SyncBatchNorm.convert_sync_batchnorm(module)

    @staticmethod
    @contextlib.contextmanager
    def frozen(D: nn.Module, wrapped: nn.Module) -> Iterator[None]:
        """D's weights fixed for G's update: no gradients for them, and under DDP no gradient
        synchronisation expected from this backward pass (`no_sync`), which would otherwise
        wait for D's gradients that never come."""
        sync = (
            wrapped.no_sync()
            if isinstance(wrapped, nn.parallel.DistributedDataParallel)
            else contextlib.nullcontext()
        )
        D.requires_grad_(False)
        try:
            with sync:
                yield
        finally:
            D.requires_grad_(True)

    # -- talking across ranks (each is a collective: every rank must call it) -------------------

    def mean(self, stats: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Each statistic averaged over ranks, in one all-reduce."""
        if not self.enabled:
            return stats
        keys = list(stats)
        values = torch.stack([stats[k].detach().float().reshape(()) for k in keys])
        dist.all_reduce(values)
        values /= self.world_size
        return dict(zip(keys, values.unbind(), strict=True))

    def any(self, flag: bool, device: torch.device) -> bool:
        """Whether `flag` is set on any rank."""
        if not self.enabled:
            return flag
        value = torch.tensor([float(flag)], device=device)
        dist.all_reduce(value, op=dist.ReduceOp.MAX)
        return bool(value.item())

    def should_stop(self, requested: bool, measure: bool, device: torch.device) -> bool:
        """Whether to stop after this step, given this process's Ctrl-C. Ranks must agree,
        which costs a collective (and a wait for the device), so under torchrun they compare
        notes only at logged (`measure`) steps, and a Ctrl-C is acted on there."""
        if not self.enabled:
            return requested
        return measure and self.any(requested, device)

    def share_weights(self, module: nn.Module) -> None:
        """Give `module` rank 0's parameters and buffers on every rank."""
        if not self.enabled:
            return
        with torch.no_grad():
            for tensor in [*module.parameters(), *module.buffers()]:
                dist.broadcast(tensor, src=0)

    def gather_rows(self, rows: torch.Tensor) -> torch.Tensor | None:
        """Rank k's `rows` are items k, k+N, k+2N, ... of a whole: that whole, in item order, on
        rank 0 (on the CPU), and None on the other ranks."""
        if not self.enabled:
            return rows
        parts: list[Any] | None = [None] * self.world_size if self.is_main else None
        dist.gather_object(rows.cpu(), parts, dst=0)
        if parts is None:
            return None
        out = rows.new_empty((sum(len(p) for p in parts), *rows.shape[1:]), device="cpu")
        for k, part in enumerate(parts):
            out[k :: self.world_size] = part
        return out

    def gather(self, obj: T) -> list[T]:
        """Every rank's `obj`, in rank order."""
        if not self.enabled:
            return [obj]
        out: list[Any] = [None] * self.world_size
        dist.all_gather_object(out, obj)
        return out

    def broadcast(self, obj: T) -> T:
        """Rank 0's `obj` on every rank."""
        return self._from_rank0(obj)

    def from_main(self, compute: Callable[[], T]) -> T:
        """`compute()` run on rank 0 alone (a choice made by timing there), its result on every
        rank: the other ranks have nothing of their own to send, and need no placeholder."""
        return self._from_rank0(compute() if self.is_main else None)

    def _from_rank0(self, obj: object) -> Any:
        if not self.enabled:
            return obj
        box: list[Any] = [obj]
        dist.broadcast_object_list(box, src=0)
        return box[0]
