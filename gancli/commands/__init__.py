"""One Hydra app per CLI command. Each composes and validates its config, then imports torch."""

import sys
from collections.abc import Callable, Iterator
from pathlib import Path

from gancli.config import register_configs

register_configs()


def _help_groups_from_one_repository() -> None:
    """`--help`'s list of config groups, read from one config repository, without the schemas.

    Hydra's own formatter builds a fresh repository, deep-copying every stored config, for each
    of the ~130 group look-ups it makes, twice (its own groups and the app's): with a schema
    stored per option family that made `gancli train --help` take 2.5 s where 1.6 s did before
    on the 2-core CPU. Listing from one repository gives the same lines. The option schemas
    (`schema/<group>/<name>`) are what options extend, not choices, so they are left out. Hydra
    has no setting for either, so its formatter is replaced; a Hydra without the private
    method this uses keeps its own."""
    from hydra._internal.hydra import Hydra
    from hydra.core.object_type import ObjectType

    original = getattr(Hydra, "format_config_groups", None)
    if original is None or getattr(original, "_gancli", False):
        return

    def format_config_groups(self: Hydra, predicate: Callable[[str], bool],
                             compact: bool = True) -> str:
        loader = self.config_loader
        if not hasattr(loader, "_parse_overrides_and_create_caching_repo"):
            return original(self, lambda g: predicate(g) and not g.startswith("schema"), compact)
        _, repo = loader._parse_overrides_and_create_caching_repo(None, [])

        def groups(parent: str = "") -> Iterator[str]:
            for child in repo.get_group_options(parent, ObjectType.GROUP):
                name = f"{parent}/{child}" if parent else child
                if name == "schema":
                    continue
                if repo.get_group_options(name, ObjectType.CONFIG):
                    yield name
                yield from groups(name)

        lines = []
        for group in sorted(g for g in groups() if predicate(g) and composed(g)):
            options = sorted(repo.get_group_options(group, ObjectType.CONFIG))
            lines.append(f"{group}: {', '.join(options)}" if compact else
                         f"{group}:\n" + "\n".join(f"  {o}" for o in options))
        return "".join(line + "\n" for line in lines)

    def composed(group: str) -> bool:
        """Whether the command's config composes `group` (Hydra records each group its
        defaults chose in hydra.runtime.choices, before it formats the help): `sample --help`
        lists none of train's groups, `eval --help` only `data`."""
        from hydra.core.hydra_config import HydraConfig

        return (not HydraConfig.initialized() or group.startswith("hydra")
                or group in HydraConfig.get().runtime.choices)

    format_config_groups._gancli = True  # type: ignore[attr-defined]
    Hydra.format_config_groups = format_config_groups  # type: ignore[method-assign]


_help_groups_from_one_repository()


def run_folder() -> Path:
    """The folder Hydra made for this command's run (or sweep job)."""
    from hydra.core.hydra_config import HydraConfig

    return Path(HydraConfig.get().runtime.output_dir)


def print_result(path: Path) -> None:
    """What the command made, as the last line on stdout: the one thing a script reads (logs
    go to stderr)."""
    sys.stdout.write(f"{path}\n")
    sys.stdout.flush()
