"""G's input: the simple distributions it maps from (`latent.dist`), how to draw from them, and
how to walk between two latents. Training, sampling and evaluation all draw latents here, so a
new distribution is one registered draw function (plus its interpolation, if straight lines do
not suit it)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from omegaconf import DictConfig

from gancli.registry import Registry

#: Draws a tensor of `shape` (generator and device optional, as in `torch.randn`).
Draw = Callable[..., torch.Tensor]
#: Points at fractions `t` on the paths from rows of `a` to rows of `b`.
Interpolate = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class LatentDistribution:
    """One `latent.dist` option: how to draw latents and how to walk between two of them."""

    draw: Draw
    interpolate: Interpolate


LATENTS: Registry[LatentDistribution] = Registry("latent distribution (latent.dist)")


def register_latent(name: str, interpolate: Interpolate = torch.lerp) -> Callable[[Draw], Draw]:
    """Decorator: make a draw function available as `latent.dist=<name>`, walked by
    `interpolate` (straight lines by default: right for any convex support)."""

    def add(draw: Draw) -> Draw:
        LATENTS.register(name)(LatentDistribution(draw, interpolate))
        return draw

    return add


def slerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Spherical interpolation between rows of `a` and `b` at fractions `t` (White 2016): keeps
    interpolated normal latents at the norm G was trained on, which a straight line would not.
    Written here because torch has no slerp."""
    a_n, b_n = a / a.norm(dim=-1, keepdim=True), b / b.norm(dim=-1, keepdim=True)
    omega = torch.acos((a_n * b_n).sum(-1, keepdim=True).clamp(-1 + 1e-7, 1 - 1e-7))
    so = torch.sin(omega)
    return (torch.sin((1 - t) * omega) / so) * a + (torch.sin(t * omega) / so) * b


@register_latent("normal", interpolate=slerp)
def normal(
    shape: tuple[int, ...],
    generator: torch.Generator | None = None,
    device: torch.device | None = None,
) -> torch.Tensor:
    """Standard normal."""
    return torch.randn(shape, generator=generator, device=device)


@register_latent("uniform")
def uniform(
    shape: tuple[int, ...],
    generator: torch.Generator | None = None,
    device: torch.device | None = None,
) -> torch.Tensor:
    """Uniform on [-1, 1] (a cube, so walked along straight lines)."""
    return torch.rand(shape, generator=generator, device=device) * 2 - 1


def latent_distribution(latent: DictConfig) -> LatentDistribution:
    """The distribution `latent.dist` names."""
    return LATENTS.lookup(latent.dist)


def sample_latent(
    n: int,
    latent: DictConfig,
    generator: torch.Generator | None = None,
    device: torch.device | None = None,
) -> torch.Tensor:
    """`n` latent vectors of size `latent.dim` from `latent.dist`.

    With a `generator` (reproducible sampling) the rows are drawn one at a time: torch's
    vectorised CPU sampler fills a large tensor differently from a small one, and drawing row by
    row makes sample i depend only on the seed and i, not on how many are asked for.
    """
    draw = latent_distribution(latent).draw
    if generator is None:
        return draw((n, latent.dim), device=device)
    return torch.cat([draw((1, latent.dim), generator=generator) for _ in range(n)]).to(device)


def interpolation_latents(
    rows: int, steps: int, latent: DictConfig, generator: torch.Generator
) -> torch.Tensor:
    """`rows` paths of `steps` latents each, row-major, each walked as its distribution says."""
    ends = sample_latent(2 * rows, latent, generator).view(rows, 2, 1, -1)
    t = torch.linspace(0, 1, steps).view(1, steps, 1)
    z = latent_distribution(latent).interpolate(ends[:, 0], ends[:, 1], t)
    return z.reshape(rows * steps, -1)
