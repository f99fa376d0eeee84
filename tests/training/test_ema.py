"""G's moving average: the ramped decay's arithmetic, buffers, and no host synchronisation."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from gancli.training.ema import EMA


def _player() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))


def test_first_update_copies_then_decay_ramps_up() -> None:
    G = _player()
    ema = EMA(G, decay=0.9)
    with torch.no_grad():
        for p in G.parameters():
            p.add_(1.0)
    ema.update(G)  # the first update takes G as it is
    for a, b in zip(ema.module.parameters(), G.parameters(), strict=True):
        assert torch.equal(a, b)
    before = [p.clone() for p in ema.module.parameters()]
    with torch.no_grad():
        for p in G.parameters():
            p.add_(2.0)
    G(torch.randn(8, 3))  # moves the batch-norm statistics and counter
    ema.update(G)
    beta = min(0.9, 2 / 11)  # n = 1: the warm-up rule, well below the decay
    for a, old, new in zip(ema.module.parameters(), before, G.parameters(), strict=True):
        assert torch.allclose(a, beta * old + (1 - beta) * new)
    bn, bn_ema = G[1], ema.module[1]
    assert int(bn_ema.num_batches_tracked) == int(bn.num_batches_tracked) == 1  # copied
    assert not torch.equal(bn_ema.running_mean, bn.running_mean)  # averaged, not copied
    assert ema.count == 2 and isinstance(ema.count, int)
    assert not any(p.requires_grad for p in ema.module.parameters())


def test_late_updates_use_the_configured_decay() -> None:
    G = _player()
    ema = EMA(G, decay=0.5)
    ema.count = 1000  # far past the warm-up: min(0.5, 1001/1010) = 0.5
    old = [p.clone() for p in ema.module.parameters()]
    with torch.no_grad():
        for p in G.parameters():
            p.mul_(3.0)
    ema.update(G)
    for a, o, n in zip(ema.module.parameters(), old, G.parameters(), strict=True):
        assert torch.allclose(a, 0.5 * o + 0.5 * n)


@pytest.mark.gpu
def test_update_does_not_synchronise_with_the_gpu() -> None:
    G = _player().cuda()
    ema = EMA(G, decay=0.999)
    ema.update(G)
    torch.cuda.set_sync_debug_mode("error")  # any device-to-host wait raises
    try:
        for _ in range(3):
            ema.update(G)
    finally:
        torch.cuda.set_sync_debug_mode("default")
