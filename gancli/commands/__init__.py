"""One module per CLI command. Each composes and validates its config, then imports torch, and
declares what it is (`COMMAND`) for the dispatcher (`gancli.cli`)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from gancli.config import register_configs

register_configs()


@dataclass(frozen=True)
class Command:
    """What `gancli <name> ...` runs. Either a Hydra app (`app`: it reads sys.argv, which the
    dispatcher sets) or a command that reads its own arguments (`dispatch`: sub-commands, or
    folders instead of a config; it returns the exit status). A Hydra app may add to its own
    command line first (`command_line`: needs no torch or Hydra) and, after `--cfg job`, print
    what the config chose (`after_show_cfg`)."""

    app: Callable[[], object] | None = None
    dispatch: Callable[[list[str]], int] | None = None
    command_line: Callable[[list[str]], list[str]] | None = None
    after_show_cfg: Callable[[], None] | None = None

    def __post_init__(self) -> None:
        if (self.app is None) == (self.dispatch is None):
            raise TypeError("a command is a Hydra app or a dispatch function: give one")


def print_result(path: Path) -> None:
    """What the command made, as the last line on stdout: the one thing a script reads (logs
    go to stderr)."""
    sys.stdout.write(f"{path}\n")
    sys.stdout.flush()
