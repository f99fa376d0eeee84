"""Errors a user can fix.

A `GancliError` carries one line that names the problem and the fix; `did_you_mean` words the
fix for a likely typo. Commands wrap their body in `gancli.commands.hydra_seam.reported`, which
logs that line (to stderr and the run's log file) and exits non-zero, instead of letting Hydra
print a stack trace for what is a user's mistake, not a bug.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class GancliError(Exception):
    """A problem with the user's input or files; the message says what is wrong and what to do."""

    exit_code = 1


class ConfigError(GancliError):
    """A setting the schemas refuse (unknown key, value out of range), found before any work."""


def did_you_mean(word: object, choices: Iterable[object], shown: str = "{}") -> str:
    """`; did you mean X?` for the choice `word` is a likely typo of (difflib's closest, when
    close enough), written as `shown` formats it (`loss={}`, `train.{}`); `""` when none is."""
    close = difflib.get_close_matches(str(word), [str(c) for c in choices], n=1)
    return f"; did you mean {shown.format(close[0])}?" if close else ""
