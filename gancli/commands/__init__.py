"""One Hydra app per CLI command. Each composes and validates its config, then imports torch."""

import sys
from collections.abc import Callable
from pathlib import Path

from gancli.config import register_configs

register_configs()


def _hide_schema_groups() -> None:
    """Keep `--help`'s group list to the groups users choose from: the option schemas stored as
    `schema/<group>/<option>` are what each option's YAML extends, not choices of their own.
    Hydra has no setting for this, so its help formatter is wrapped (guarded: a Hydra without
    it keeps its own list)."""
    from hydra._internal.hydra import Hydra

    original = getattr(Hydra, "format_config_groups", None)
    if original is None or getattr(original, "_gancli", False):
        return

    def format_config_groups(self: Hydra, predicate: Callable[[str], bool],
                             compact: bool = True) -> str:
        return original(self, lambda g: predicate(g) and not g.startswith("schema"), compact)

    format_config_groups._gancli = True  # type: ignore[attr-defined]
    Hydra.format_config_groups = format_config_groups  # type: ignore[method-assign]


_hide_schema_groups()


def run_folder() -> Path:
    """The folder Hydra made for this command's run (or sweep job)."""
    from hydra.core.hydra_config import HydraConfig

    return Path(HydraConfig.get().runtime.output_dir)


def print_result(path: Path) -> None:
    """What the command made, as the last line on stdout: the one thing a script reads (logs
    go to stderr)."""
    sys.stdout.write(f"{path}\n")
    sys.stdout.flush()
