"""The README and docs/*.md are read by people who copy their commands: every `gancli ...` line
in their shell code blocks must run as written. Hydra commands (train, sample, eval, data
prepare) must compose, as `gancli <command> ... --cfg job` checks, and pass `validate`, as the
command does before any work; `report` and `data info/check` must parse. Composing in this
process keeps the whole check to seconds, against 4 s of imports per line for a real
`--cfg job` process.

A sweep (`-m key=a,b,c`) is checked with each swept key's first value: the other values are of
the same key, which composition checks by name.

Composition is split as Hydra splits it: the config groups a command line chooses build a config
(composed once per distinct choice, the slow part), then Hydra's own function applies the key
overrides to a copy of it."""

from __future__ import annotations

import copy
import re
import shlex
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from hydra import compose, initialize_config_module
from hydra._internal.config_loader_impl import ConfigLoaderImpl
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.errors import HydraException
from omegaconf import DictConfig, open_dict

from gancli import cli
from gancli.commands import report
from gancli.config import config_error_line, validate
from gancli.errors import GancliError
from tests.conftest import REPO

DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
#: Code blocks whose lines are shell commands (other blocks: `text`, `yaml`, ...).
SHELL_BLOCKS = {"bash", "sh", "shell", "console"}
#: The config each Hydra command composes (`gancli data prepare`: conf/prepare.yaml).
CONFIGS = {"train": "train", "sample": "sample", "eval": "eval", "prepare": "prepare"}
#: Shell words that end the gancli command on a line (a pipe, a list, a redirect).
SHELL_OPERATORS = {"|", "||", "&&", ";", "&", ">", ">>", "<", "2>", ")"}
#: gancli's config groups (`conf/<group>/`); Hydra's own are `hydra/<group>`.
GROUPS = {p.name for p in resources.files("gancli.conf").iterdir() if p.is_dir()}


@dataclass(frozen=True)
class DocCommand:
    """One `gancli ...` command of a doc: where it is (file:line) and the words after `gancli`
    (or why the shell could not split the line into words)."""

    where: str
    words: tuple[str, ...]
    shell_error: str | None = None


def shell_lines(text: str) -> Iterator[tuple[int, str]]:
    """(line number, command) for each line of `text`'s shell code blocks, with a `$ ` prompt
    stripped and `\\`-continued lines joined onto the first line's number."""
    block: str | None = None  # the open block's language
    pending, start = "", 0
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if stripped.startswith("```"):
            block = None if block is not None else stripped[3:].strip().lower()
            continue
        if block not in SHELL_BLOCKS:
            continue
        if not pending:
            start = number
            stripped = stripped.removeprefix("$ ")
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        yield start, pending + stripped
        pending = ""


def gancli_words(command: str) -> tuple[str, ...] | None:
    """The words after `gancli` in a shell command (`gancli`, `.venv/bin/gancli`,
    `python -m gancli`, `torchrun ... -m gancli`, after `VAR=value` or `srun`), up to a shell
    operator; comments dropped, quotes removed as the shell would. None: no gancli command."""
    lexer = shlex.shlex(command, posix=True, punctuation_chars=";&|<>()")
    lexer.whitespace_split = True
    words = list(lexer)
    starts = [i for i, w in enumerate(words) if Path(w).name == "gancli"]
    if not starts:
        return None
    rest = words[starts[0] + 1 :]
    ends = [i for i, w in enumerate(rest) if w in SHELL_OPERATORS]
    return tuple(rest[: ends[0]] if ends else rest)


def doc_commands(path: Path, text: str | None = None) -> list[DocCommand]:
    """Every gancli command in the shell code blocks of the doc at `path`."""
    text = path.read_text(encoding="utf-8") if text is None else text
    name = path.relative_to(REPO) if path.is_relative_to(REPO) else path
    found = []
    for number, line in shell_lines(text):
        try:
            words = gancli_words(line)
        except ValueError as err:  # an unclosed quote
            if "gancli" in line:
                found.append(DocCommand(f"{name}:{number}", (line,), f"shell: {err}"))
            continue
        if words is not None:
            found.append(DocCommand(f"{name}:{number}", words))
    return found


@dataclass
class Composer:
    """`compose(config, overrides)` as Hydra composes it, each distinct choice of config groups
    composed once (Hydra's context must be open)."""

    chosen: dict[tuple[str, ...], DictConfig] = field(default_factory=dict)

    def __call__(self, config: str, overrides: list[str]) -> DictConfig:
        parsed = OverridesParser.create().parse_overrides(overrides)
        is_group = ["/" in o.key_or_group or o.key_or_group in GROUPS for o in parsed]
        groups = [o.input_line for o, g in zip(parsed, is_group, strict=True) if g]
        chosen = (config, *sorted(groups))  # choices of different groups commute
        if chosen not in self.chosen:
            self.chosen[chosen] = compose(
                config_name=config, overrides=groups, return_hydra_config=True
            )
        cfg = copy.deepcopy(self.chosen[chosen])
        ConfigLoaderImpl._apply_overrides_to_config(
            [o for o, g in zip(parsed, is_group, strict=True) if not g], cfg
        )
        with open_dict(cfg):
            del cfg["hydra"]  # as compose() returns it
        return cfg


def first_of_sweeps(overrides: list[str]) -> list[str]:
    """Each `key=a,b,c` sweep override as `key=a` (a range sweep as its start, an Optuna
    interval as its low end); other overrides as they are."""
    parsed = OverridesParser.create().parse_overrides(overrides)
    out = []
    for text, override in zip(overrides, parsed, strict=True):
        if override.is_sweep_override():
            if override.is_interval_sweep():
                first = str(override.value().start)  # type: ignore[union-attr]
            else:
                first = next(override.sweep_string_iterator())
            text = f"{override.get_key_element()}={first}"
        out.append(text)
    return out


def hydra_problem(config: str, args: tuple[str, ...], composer: Composer) -> str | None:
    """Why `args` of the Hydra command using `config` would fail before any work, or None.

    Flags are Hydra's own (`-m`, `--cfg job`, `--help`); the rest are overrides, composed and
    validated as the command does."""
    overrides, sweep, skip = [], False, False
    for word in args:
        if skip:
            skip = False
        elif word in ("-m", "--multirun"):
            sweep = True
        elif word in ("--cfg", "-c", "--package", "-p"):
            skip = True  # its value follows
        elif word in ("--help", "-h", "--hydra-help", "--info", "-i"):
            continue
        elif word.startswith("-"):
            return f"unknown flag {word}"
        else:
            overrides.append(word)
    try:
        if sweep:
            overrides = first_of_sweeps(overrides)
        validate(composer(config, overrides))
    except HydraException as err:
        return config_error_line(err)
    except GancliError as err:
        return str(err)
    return None


def problem(words: tuple[str, ...], composer: Composer) -> str | None:
    """Why `gancli *words` would fail before doing any work, or None (Hydra's context open)."""
    if not words or words[0] in ("-h", "--help", "-V", "--version"):
        return None
    command, args = words[0], words[1:]
    if command not in cli.COMMANDS:
        return f"no command '{command}'; commands: {', '.join(cli.COMMANDS)}"
    if command == "report":
        try:
            report.parser().parse_args(list(args))
        except SystemExit:
            return "`gancli report` does not take this command line (see gancli report --help)"
        return None
    if command == "data":
        sub, rest = (args[0], args[1:]) if args else ("", ())
        if sub == "prepare":
            return hydra_problem(CONFIGS["prepare"], rest, composer)
        if sub in ("info", "check"):
            return (
                None
                if len(rest) == 1 or rest[:1] in (("-h",), ("--help",))
                else (f"gancli data {sub} takes one folder")
            )
        return f"no data sub-command '{sub}'; sub-commands: prepare, info, check"
    return hydra_problem(CONFIGS[command], args, composer)


def problems(commands: list[DocCommand]) -> list[str]:
    """`file:line: gancli ...: why` for each command that would fail; each distinct command
    line is composed once."""
    seen: dict[tuple[str, ...], str | None] = {}
    composer = Composer()
    with initialize_config_module(config_module="gancli.conf", version_base="1.3"):
        for c in commands:
            if c.words not in seen:
                seen[c.words] = c.shell_error or problem(c.words, composer)
    return [
        f"{c.where}: gancli {shlex.join(c.words)}: {seen[c.words]}"
        for c in commands
        if seen[c.words]
    ]


def all_doc_commands() -> list[DocCommand]:
    return [c for doc in DOCS for c in doc_commands(doc)]


def test_every_documented_command_composes() -> None:
    bad = problems(all_doc_commands())
    assert not bad, "documented commands that fail:\n" + "\n".join(bad)


def test_the_docs_show_every_command() -> None:
    """The check above is not vacuous: the docs' code blocks hold commands of every kind."""
    shown = {
        " ".join(c.words[:2]) if c.words[:1] == ("data",) else c.words[0]
        for c in all_doc_commands()
        if c.words
    }
    assert {"train", "sample", "eval", "report", "data prepare", "data info", "data check"} <= shown


def test_a_wrong_key_in_a_doc_is_named_with_its_line(tmp_path: Path) -> None:
    doc = tmp_path / "doc.md"
    text = (
        "Prose mentioning `gancli train train.stepz=1` is not a command.\n\n"
        "```bash\n"
        "$ gancli train loss=hinge train.steps=5   # fine\n"
        "gancli train -m loss=ns,hinge \\\n"
        "    train.stepz=1\n"
        "OMP_NUM_THREADS=1 gancli sample ckpt=outputs/x n=4 | head\n"
        "gancli eval ckpt=outputs/x eval.n=-1\n"
        "gancli data list\n"
        "gancli train 'loss=ns\n"
        "```\n"
        "```yaml\n"
        "gancli train nonsense=1\n"
        "```\n"
    )
    bad = problems(doc_commands(doc, text))
    assert [line.split(": gancli")[0] for line in bad] == [
        f"{doc}:5",
        f"{doc}:8",
        f"{doc}:9",
        f"{doc}:10",
    ]
    assert "stepz" in bad[0] and "eval.n=-1" in bad[1] and "'list'" in bad[2]
    assert "closing quotation" in bad[3]


def test_the_readme_reads_in_five_minutes() -> None:
    assert len((REPO / "README.md").read_text(encoding="utf-8").splitlines()) <= 250


def anchors(doc: Path) -> set[str]:
    """The `#anchor` of each heading of `doc`, as GitHub makes them."""
    headings = re.findall(r"^#+ (.+)$", doc.read_text(encoding="utf-8"), flags=re.M)
    return {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-") for h in headings}


def test_every_relative_link_in_the_docs_leads_somewhere() -> None:
    """Links and images between the README and docs/: the file, and the heading after `#`."""
    broken = []
    for doc in DOCS:
        for target in re.findall(r"\]\(([^)\s]+)\)", doc.read_text(encoding="utf-8")):
            path, _, anchor = target.partition("#")
            if "://" in path:
                continue
            linked = doc.parent / path if path else doc
            if not linked.exists() or (anchor and anchor not in anchors(linked)):
                broken.append(f"{doc.relative_to(REPO)}: {target}")
    assert not broken, "links to nothing:\n" + "\n".join(broken)
