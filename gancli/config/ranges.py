"""The allowed values of numeric config keys, declared beside each key's default.

OmegaConf checks types but not values, so a schema field carries its `Range` in its metadata
(`ranged(3000, ge=1)`) and `gancli.config.checks.validate` enforces it before any work.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from omegaconf import MISSING


@dataclass(frozen=True)
class Range:
    """The values a numeric key allows: bounds inclusive (`ge`, `le`) or exclusive (`gt`,
    `lt`). A list key (`optim.betas`) applies it to every item; a null optional key passes."""

    ge: float | None = None
    gt: float | None = None
    le: float | None = None
    lt: float | None = None

    def allows(self, value: float) -> bool:
        if isinstance(value, float) and math.isnan(value):
            return False
        return ((self.ge is None or value >= self.ge) and (self.gt is None or value > self.gt)
                and (self.le is None or value <= self.le) and (self.lt is None or value < self.lt))

    def __str__(self) -> str:
        parts = [f"{op} {_num(bound)}" for op, bound in
                 ((">=", self.ge), (">", self.gt), ("<=", self.le), ("<", self.lt))
                 if bound is not None]
        return " and ".join(parts)


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


def ranged(default: Any = MISSING, *, factory: Any = None, **bounds: float) -> Any:
    """A dataclass field with a default (or a default `factory` for lists) and a `Range`."""
    meta = {"range": Range(**bounds)}
    if factory is not None:
        return field(default_factory=factory, metadata=meta)
    return field(default=default, metadata=meta)
