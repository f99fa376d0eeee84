"""Name → implementation tables behind the config groups (`data=`, `model=`, `loss=`,
`eval.features=`): a new option is one module that registers itself plus one YAML, never an `if`
chain in the code that uses it."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Generic, TypeVar

from gancli.errors import GancliError

T = TypeVar("T")


def unknown_name(kind: str, name: object, choices: Iterable[str]) -> str:
    """The one wording of an unknown option, for every registry and config group."""
    return f"unknown {kind} '{name}'; choose one of: {', '.join(choices)}"


class Registry(dict[str, T], Generic[T]):
    """A dict of named entries for one kind of thing, with a decorator to add to it and a
    lookup whose error lists the valid names."""

    def __init__(self, kind: str) -> None:
        super().__init__()
        self.kind = kind

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator: make the decorated function or class available under `name`."""

        def add(entry: T) -> T:
            self[name] = entry
            return entry

        return add

    def lookup(self, name: str) -> T:
        """The entry `name`, or a one-line error naming the valid ones."""
        if name not in self:
            raise GancliError(unknown_name(self.kind, name, self))
        return self[name]
