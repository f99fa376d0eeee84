"""The command-line contract: help, unknown commands, config errors, and no torch on those paths.

The console script, exit statuses through a real process and imports run `gancli` as a process;
the rest runs in-process (`run_cli`), which answers the same."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest
from hydra.errors import ConfigCompositionException

from gancli.commands.hydra_seam import _raised_by_hydra
from tests.conftest import run_cli, run_gancli


def test_no_arguments_lists_commands(tmp_path: Path) -> None:
    proc = run_cli(cwd=tmp_path)
    for command in ("train", "sample", "eval"):
        assert any(line.split()[:1] == [command] for line in proc.stdout.splitlines())


def test_console_script_help_lists_commands_one_line_each(tmp_path: Path) -> None:
    proc = run_gancli("--help", cwd=tmp_path)  # the installed script, through its entry point
    lines = [ln.split()[0] for ln in proc.stdout.splitlines() if ln.startswith("  ")]
    assert lines[:3] == ["train", "sample", "eval"]


def test_unknown_command_exits_2_with_one_line_and_a_guess(tmp_path: Path) -> None:
    proc = run_cli("trian", cwd=tmp_path, check=False)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr == (
        "gancli: error: unknown command 'trian'; choose one of: train, "
        "sample, eval, data, report; did you mean train?\n"
    )


@pytest.mark.parametrize("flag", ["--version", "-V"])
def test_version_is_the_installed_packages(flag: str, tmp_path: Path) -> None:
    assert run_cli(flag, cwd=tmp_path).stdout == f"gancli {version('gancli')}\n"


def test_command_help_lists_groups_and_options(tmp_path: Path) -> None:
    proc = run_cli("train", "--help", cwd=tmp_path)
    assert "loss: " in proc.stdout and "wgan-gp" in proc.stdout
    assert "model: " in proc.stdout and "dcgan" in proc.stdout
    assert "data: " in proc.stdout and "digits" in proc.stdout
    assert "conditioning: class, image, none, text" in proc.stdout
    assert not (tmp_path / "outputs").exists()  # help runs nothing


def test_sample_and_eval_help_list_only_their_own_groups(tmp_path: Path) -> None:
    sample = run_cli("sample", "--help", cwd=tmp_path).stdout
    assert "Config groups" not in sample and "group=option" not in sample
    assert "\nckpt: null\n" in sample
    evaluate = run_cli("eval", "--help", cwd=tmp_path).stdout
    groups = evaluate.split("== Config groups ==")[1].split("== Config ==")[0]
    assert [ln.split(":")[0] for ln in groups.splitlines() if ": " in ln] == ["data"]
    assert "data: cifar10, digits," in groups
    for train_only in ("loss", "optim", "model", "experiment"):
        assert f"\n{train_only}: " not in sample + evaluate


def test_incompatible_choice_is_one_clear_line(tmp_path: Path) -> None:
    proc = run_cli("train", "data=ring8", "train.steps=1", cwd=tmp_path, check=False)
    assert proc.returncode == 1
    errors = [ln for ln in proc.stderr.splitlines() if "error" in ln]
    assert errors == [
        "gancli: error: model=dcgan needs image data, but data=ring8 is 2D points: use model=mlp"
    ]
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize(
    "argv",
    [
        ["--help"],
        ["train", "--help"],
        ["sample", "--help"],
        ["train", "optim.lrr=1"],
        ["train", "loss=nope"],
    ],
)
def test_help_and_config_errors_do_not_import_torch(argv: list[str], tmp_path: Path) -> None:
    code = (
        f"import sys\nfrom gancli.cli import main\nsys.argv = ['gancli', *{argv!r}]\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "sys.stderr.write(f'TORCH={\"torch\" in sys.modules}')\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert "TORCH=False" in proc.stderr


def test_in_process_runs_capture_their_own_lines_and_leave_no_state(tmp_path: Path) -> None:
    """Two failing runs in a row: each result holds its own error line (Hydra's log handler is
    bound to each run's capture, not the first's), and cwd, argv and the root logger's
    handlers are as before, so in-process tests stay independent of each other's order."""
    before = (os.getcwd(), sys.argv[:], logging.getLogger().handlers[:])
    first = run_cli("train", "data=ring8", "train.steps=1", cwd=tmp_path, check=False)
    second = run_cli("train", "data=grid25", "train.steps=1", cwd=tmp_path, check=False)
    assert "data=ring8 is 2D points" in first.stderr and "data=grid25" not in first.stderr
    assert "data=grid25 is 2D points" in second.stderr and "ring8" not in second.stderr
    assert (os.getcwd(), sys.argv, logging.getLogger().handlers) == before


# -- command-line traps: each one line with its fix, also with HYDRA_FULL_ERROR=0 set ----------


@pytest.mark.parametrize(
    "args, parts",
    [
        (
            ["hydra.run.dir=/proc/x"],
            [
                "cannot make the run folder /proc/x: No such file or "
                "directory (a file is in the way, or the folder is not writable); choose another "
                "hydra.run.dir"
            ],
        ),
        (
            ["data.root=~/x"],
            [
                "cannot read the override 'data.root=~/x': '~' cannot stand unquoted "
                "in a value; quote the value, and the whole override for the shell: "
                "'data.root=\"~/x\"'"
            ],
        ),
        (
            ["data.root=données"],
            [
                "'é' cannot stand unquoted in a value; quote the value, and the "
                "whole override for the shell: 'data.root=\"données\"'"
            ],
        ),
        (
            ["data=folder", "data.root=/my", "data", "train.steps=2"],
            [
                "'data' is not an override (key=value); if it is the rest of a value with a space, "
                "quote the whole override for the shell: 'data.root=/my data'"
            ],
        ),
        (
            ["train.stepz=10"],
            ["train has no key 'stepz'; its keys: steps, ", "; did you mean train.steps?"],
        ),
        (
            ["loss=wgan_gp"],
            [
                "unknown loss 'wgan_gp'; choose one of: fgan, ",
                "wgan-sn; did you mean loss=wgan-gp?",
            ],
        ),
        (
            ["los=ns"],
            [
                "'los' is not a setting of this command; its settings: data, ",
                "; did you mean loss?",
            ],
        ),
    ],
)
def test_command_line_traps_are_one_line_naming_the_fix(
    args: list[str], parts: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HYDRA_FULL_ERROR", "0")  # as for Hydra, only 1 asks for a traceback
    result = run_cli("train", "train.steps=2", *args, cwd=tmp_path, check=False)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.splitlines() == [result.stderr.splitlines()[-1]]
    assert result.stderr.startswith("gancli: error: ")
    assert all(part in result.stderr for part in parts)
    assert not (tmp_path / "outputs").exists() and os.environ["HYDRA_FULL_ERROR"] == "0"


def test_hydra_full_error_1_still_shows_hydras_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HYDRA_FULL_ERROR", "1")
    with pytest.raises(ConfigCompositionException, match="optim.lrr"):
        run_cli("train", "optim.lrr=1", cwd=tmp_path, check=False)


def test_an_os_error_of_gancli_code_is_not_worded_as_the_run_folder(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError) as caught:
        (tmp_path / "no" / "such").mkdir()
    assert not _raised_by_hydra(caught.value)
