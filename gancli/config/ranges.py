"""The allowed values of config keys, declared beside each key's default.

OmegaConf checks types but not values, so a schema field carries its `Range` (numbers:
`ranged(3000, ge=1)`) or `Pattern` (strings: `matching("auto", DEVICE)`) in its metadata and
`gancli.config.checks.validate` enforces it before any work.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

from omegaconf import MISSING


@dataclass(frozen=True)
class Range:
    """The values a numeric key allows: bounds inclusive (`ge`, `le`) or exclusive (`gt`,
    `lt`). A list key (`optim.betas`) applies it to every item; a null optional key passes."""

    #: How a refused value is described.
    refusal = "out of range"

    ge: float | None = None
    gt: float | None = None
    le: float | None = None
    lt: float | None = None

    def allows(self, value: float) -> bool:
        if isinstance(value, float) and math.isnan(value):
            return False
        return (
            (self.ge is None or value >= self.ge)
            and (self.gt is None or value > self.gt)
            and (self.le is None or value <= self.le)
            and (self.lt is None or value < self.lt)
        )

    def __str__(self) -> str:
        parts = [
            f"{op} {_num(bound)}"
            for op, bound in ((">=", self.ge), (">", self.gt), ("<=", self.le), ("<", self.lt))
            if bound is not None
        ]
        return " and ".join(parts)


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


def ranged(default: Any = MISSING, *, factory: Any = None, **bounds: float) -> Any:
    """A dataclass field with a default (or a default `factory` for lists) and a `Range`."""
    meta = {"range": Range(**bounds)}
    if factory is not None:
        return field(default_factory=factory, metadata=meta)
    return field(default=default, metadata=meta)


@dataclass(frozen=True)
class Pattern:
    """The strings a key allows: a regular expression the whole value matches, and how to say
    it to the user. For keys whose values have a shape (`cuda:K`), which an Enum cannot list."""

    regex: str
    text: str
    refusal = "not a valid value"

    def allows(self, value: str) -> bool:
        return re.fullmatch(self.regex, str(value)) is not None

    def __str__(self) -> str:
        return self.text


#: `train.device`, `eval.device`, `sample.device`.
DEVICE = Pattern(
    r"auto|cpu|cuda(:[0-9]+)?", "auto, cpu, cuda or cuda:K (K: the index of a visible GPU)"
)


#: `train.threads`, `eval.threads`, `sample.threads`, `data prepare`'s `threads` (gancli.threads).
THREADS = Pattern(r"auto|[1-9][0-9]*", "auto or a whole number of threads >= 1")


#: A switch that can also be chosen by measuring (`train.channels_last`). A bool given on the
#: command line arrives as `True`/`False` in a string key.
SWITCH = Pattern(r"(?i:auto|true|false)", "auto, true or false")


def matching(default: str, pattern: Pattern) -> Any:
    """A dataclass string field with a default and a `Pattern`."""
    return field(default=default, metadata={"range": pattern})
