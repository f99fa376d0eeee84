"""The command-line contract: help, unknown commands, config errors, and no torch on those paths.

The console script, exit statuses through a real process and imports run `gancli` as a process;
the rest runs in-process (`run_cli`), which answers the same."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import run_cli, run_gancli


def test_no_arguments_lists_commands(tmp_path: Path) -> None:
    proc = run_cli(cwd=tmp_path)
    for command in ("train", "sample", "eval"):
        assert any(line.split()[:1] == [command] for line in proc.stdout.splitlines())


def test_console_script_help_lists_commands_one_line_each(tmp_path: Path) -> None:
    proc = run_gancli("--help", cwd=tmp_path)  # the installed script, through its entry point
    lines = [ln.split()[0] for ln in proc.stdout.splitlines() if ln.startswith("  ")]
    assert lines[:3] == ["train", "sample", "eval"]


def test_unknown_command_exits_2_with_list_on_stderr(tmp_path: Path) -> None:
    proc = run_gancli("trian", cwd=tmp_path, check=False)
    assert proc.returncode == 2
    assert "unknown command 'trian'" in proc.stderr
    assert "sample" in proc.stderr and proc.stdout == ""


def test_command_help_lists_groups_and_options(tmp_path: Path) -> None:
    proc = run_cli("train", "--help", cwd=tmp_path)
    assert "loss: " in proc.stdout and "wgan-gp" in proc.stdout
    assert "model: " in proc.stdout and "dcgan" in proc.stdout
    assert "data: " in proc.stdout and "digits" in proc.stdout
    assert "conditioning: class, image, none, text" in proc.stdout
    assert not (tmp_path / "outputs").exists()  # help runs nothing


def test_incompatible_choice_is_one_clear_line(tmp_path: Path) -> None:
    proc = run_cli("train", "data=ring8", "train.steps=1", cwd=tmp_path, check=False)
    assert proc.returncode == 1
    errors = [ln for ln in proc.stderr.splitlines() if "error" in ln]
    assert errors == ["gancli: error: model=dcgan needs image data, but data=ring8 is 2D points: "
                      "use model=mlp"]
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize("argv", [["--help"], ["train", "--help"], ["sample", "--help"],
                                  ["train", "optim.lrr=1"], ["train", "loss=nope"]])
def test_help_and_config_errors_do_not_import_torch(argv: list[str], tmp_path: Path) -> None:
    code = (f"import sys\nfrom gancli.cli import main\nsys.argv = ['gancli', *{argv!r}]\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\n"
            "sys.stderr.write(f'TORCH={\"torch\" in sys.modules}')\n")
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                          text=True, timeout=60)
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
