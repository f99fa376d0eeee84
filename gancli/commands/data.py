"""`gancli data`: prepare a dataset once (`prepare`), show one (`info DIR`), verify one
(`check DIR`). See `gancli.data.store.format` for the format.

`prepare` is a Hydra app like the other commands (overrides, `--help`, `--cfg job`), configured
in `conf/prepare.yaml` to write nothing but `out`: no run folder, no log file. `info` and
`check` take one folder and no config, so they skip Hydra.
"""

from __future__ import annotations

import logging
import shlex
import sys
from pathlib import Path

import hydra
from omegaconf import DictConfig

from gancli.commands import Command, print_result
from gancli.commands.hydra_seam import reported, run_app
from gancli.config import validate
from gancli.errors import GancliError

log = logging.getLogger("gancli")

USAGE = """\
usage: gancli data <sub-command> ...

sub-commands:
  prepare source=FOLDER_OR_ZIP out=DIR [key=value ...]
                decode a folder or .zip of images once into DIR (class sub-folders become
                labels); data.resolution=N data.channels=1|3 data.fit=crop|pad|stretch,
                workers=N, strict=true (stop at an undecodable file), overwrite=true
  prepare data=NAME data.root=FILES out=DIR
                the same for a built-in dataset (mnist, cifar10, ...)
  info DIR      show a prepared dataset's manifest
  check DIR     verify every file of a prepared dataset against its SHA-256

Train on one with `gancli train data=prepared data.root=DIR`. `gancli data prepare --help`
lists prepare's keys.
"""


@hydra.main(version_base="1.3", config_path="pkg://gancli.conf", config_name="prepare")
@reported
def prepare_main(cfg: DictConfig) -> None:
    """`gancli data prepare ...` (the command line after `prepare` is in sys.argv): the
    prepared folder's path is the last line on stdout."""
    validate(cfg)
    from gancli.data.store.prepare import prepare  # torch, once the config is known to be valid

    print_result(prepare(cfg, command=shlex.join(["gancli", "data", "prepare", *sys.argv[1:]])))


def info(root: Path) -> None:
    """The manifest of the prepared dataset in `root`, as a table on stdout."""
    from rich.console import Console
    from rich.table import Table

    from gancli.data.store.format import read_manifest

    m = read_manifest(root)
    table = Table(title=str(root), title_justify="left", show_header=False)
    table.add_column("key", style="bold")
    table.add_column("value", overflow="fold")
    c, h, w = m["shape"]
    table.add_row("name", m["name"])
    table.add_row("shape", f"{c}×{h}×{w} (channels × height × width), uint8")
    for split, entry in m["splits"].items():
        inputs = entry.get("inputs_shape")
        paired = f", inputs {'×'.join(map(str, inputs))} (H×W×C)" if inputs else ""
        n = entry["count"]
        table.add_row(split, f"{n} image{'' if n == 1 else 's'}{paired}")
    classes = m["classes"]
    table.add_row("classes", f"{m['num_classes']}" + (f": {', '.join(classes)}" if classes else ""))
    table.add_row("source", m["source"] or "")
    table.add_row(
        "settings",
        ", ".join(f"{k}={v}" for k, v in m["settings"].items() if k not in ("name", "root")),
    )
    table.add_row("command", m["command"] or "")
    table.add_row("created", m["created"])
    table.add_row("fingerprint", m["fingerprint"])
    summary = m["summary"]
    if summary:
        skipped = summary.get("skipped", [])
        table.add_row(
            "summary",
            ", ".join(
                [f"{k} {v}" for k, v in summary.items() if k != "skipped"]
                + [f"skipped {len(skipped)}" + (f" ({skipped[0][0]}, ...)" if skipped else "")]
            ),
        )
    Console(soft_wrap=False).print(table)


def check(root: Path) -> None:
    """Every file of the prepared dataset in `root` against its manifest's SHA-256."""
    from gancli.data.store.format import verify

    m = verify(root)
    sys.stdout.write(f"{root}: {len(m['files'])} files OK (fingerprint {m['fingerprint']})\n")


FOLDER_COMMANDS = {"info": info, "check": check}


def dispatch(rest: list[str]) -> int:
    """Run `gancli data <sub-command> ...`; returns the exit status. A `GancliError` (a bad
    folder, a bad setting) is one line and status 1; a wrong command line prints the usage
    and exits 2."""
    if not rest or rest[0] in ("-h", "--help", "help"):
        sys.stdout.write(USAGE)
        return 0
    sub, args = rest[0], rest[1:]
    if sub not in ("prepare", *FOLDER_COMMANDS):
        sys.stderr.write(f"gancli: unknown data sub-command '{sub}'\n\n{USAGE}")
        return 2
    if sub in FOLDER_COMMANDS and args and args[0] in ("-h", "--help"):
        sys.stdout.write(USAGE)
        return 0
    if sub in FOLDER_COMMANDS and len(args) != 1:
        sys.stderr.write(
            f"gancli: error: gancli data {sub} takes one folder: gancli data {sub} DIR\n"
        )
        return 2
    try:
        if sub == "prepare":  # Hydra reads sys.argv; argv[0] names the program in its usage
            sys.argv = ["gancli data prepare", *args]
            return run_app(prepare_main)
        FOLDER_COMMANDS[sub](Path(args[0]).expanduser())
    except GancliError as err:
        sys.stderr.write(f"gancli: error: {err}\n")
        return err.exit_code
    except KeyboardInterrupt:
        sys.stderr.write("gancli: interrupted; nothing was written\n")
        return 130
    return 0


COMMAND = Command(dispatch=dispatch)
