"""What composition cannot check, and errors worded as one line.

`validate` refuses keys appended with `+key=value` that no schema has, values outside their
key's `Range` and the combinations `gancli.config.rules` lists; `typed` rebuilds a saved config
(a checkpoint's) on its options' schemas, upgrading one written by an older gancli;
`config_error_line` words OmegaConf's and Hydra's multi-line errors as the one line a user
reads.
"""

from __future__ import annotations

import dataclasses
import shlex
from collections.abc import Sequence
from typing import TYPE_CHECKING, cast

from omegaconf import DictConfig, ListConfig, OmegaConf

from gancli.config.rules import refuse_combinations
from gancli.config.schemas import SCHEMAS, option_schema
from gancli.errors import ConfigError, did_you_mean
from gancli.registry import unknown_name

if TYPE_CHECKING:
    from hydra.errors import OverrideParseException

#: Keys every option of a group had before each option got its own schema (gancli 0.1's union
#: schemas): checkpoints written then carry them all, most meaningless for their option.
UNION_KEYS: dict[str, set[str]] = {
    "data": {"root", "resolution", "num_points"},
    "model": {"width", "depth", "spectral_norm"},
    "loss": {"gp_weight", "clip", "divergence", "r1_gamma", "l1_weight", "adv_weight"},
    "conditioning": {"g", "d", "embed_dim", "aux_weight", "mismatch", "task", "text_encoder"},
    "augment": {"policy"},
}


def upgrade(raw: dict) -> dict:
    """A saved config of an older gancli in today's shape: pix2pix's weights move from `loss`
    to `conditioning=image`, and the union schemas' keys an option does not have are dropped
    (they were never read for it)."""
    raw = {**raw}
    loss = raw.get("loss") or {}
    if (raw.get("conditioning") or {}).get("name") == "image":
        moved = {k: loss[k] for k in ("l1_weight", "adv_weight") if k in loss}
        raw["conditioning"] = {**raw["conditioning"], **moved}
    for group, keys in UNION_KEYS.items():
        node = raw.get(group) or {}
        schema = option_schema(group, node["name"]) if "name" in node else None
        if schema is not None:
            known = {f.name for f in dataclasses.fields(schema)}
            raw[group] = {k: v for k, v in node.items() if k in known or k not in keys}
    return raw


def typed(cfg: DictConfig | dict, app: type) -> DictConfig:
    """`cfg` (e.g. a checkpoint's saved config) merged onto the command's schema, each group
    onto its option's own schema: what composition gives, rebuilt without Hydra. Configs of an
    older gancli are `upgrade`d first."""
    raw = upgrade(cfg if isinstance(cfg, dict) else cast(dict, OmegaConf.to_container(cfg)))
    base = OmegaConf.structured(app)
    for group in SCHEMAS:
        name = (raw.get(group) or {}).get("name")
        schema = option_schema(group, name) if group in base and name else None
        if schema is not None:
            base[group] = OmegaConf.structured(schema)
    try:
        return cast(DictConfig, OmegaConf.merge(base, raw))  # a DictConfig onto a DictConfig
    except Exception as err:  # noqa: BLE001 (any OmegaConf error: worded as one line)
        raise ConfigError(config_error_line(err)) from None


def validate(cfg: DictConfig) -> None:
    """Refuse what composition lets through: keys appended with Hydra's `+key=value` that no
    schema has, values outside their key's `Range`, and combinations of options that cannot
    train (`gancli.config.rules`). One line naming the key, the value and what is allowed."""
    _validate_node(cfg, "")
    refuse_combinations(cfg)


def _validate_node(node: DictConfig, prefix: str) -> None:
    schema = OmegaConf.get_type(node)
    fields = (
        {f.name: f for f in dataclasses.fields(schema)} if dataclasses.is_dataclass(schema) else {}
    )
    for key in node:
        path = f"{prefix}{key!s}"
        if fields and key not in fields:
            raise ConfigError(unknown_key_line(path, node))
        child = node._get_node(key)
        if isinstance(child, DictConfig) and not child._is_missing() and not child._is_none():
            _validate_node(child, f"{path}.")
            continue
        bounds = fields[key].metadata.get("range") if key in fields else None
        if bounds is None:
            continue
        value = OmegaConf.select(node, str(key), throw_on_missing=False)
        items = list(value) if isinstance(value, ListConfig) else [value]
        bad = [v for v in items if v is not None and not bounds.allows(v)]
        if bad:
            shown = OmegaConf.to_container(value) if isinstance(value, ListConfig) else value
            each = "each item " if isinstance(value, ListConfig) else ""
            raise ConfigError(f"{path}={shown} is {bounds.refusal}: {each}must be {bounds}")


def option_label(path: str, node: DictConfig) -> str:
    """How a user names the node at `path`: `loss=ns` for a group option, else the path."""
    group = path.split(".")[0]
    name = node.get("name") if group in SCHEMAS and "." not in path else None
    return f"{group}={name}" if name else path


def unknown_key_line(full_key: str, parent: DictConfig | None) -> str:
    """`loss=ns has no key 'clip'; its keys: name, r1_gamma` for an unknown `full_key`."""
    *where, key = full_key.split(".")
    schema = OmegaConf.get_type(parent) if parent is not None else None
    known = (
        [f.name for f in dataclasses.fields(schema)]
        if dataclasses.is_dataclass(schema)
        else list(parent or [])
    )
    known = [str(k) for k in known if k != "hydra"]
    guess = did_you_mean(key, known, ".".join([*where, "{}"]))
    if not where:
        return f"'{key}' is not a setting of this command; its settings: {', '.join(known)}{guess}"
    label = option_label(".".join(where), parent) if parent is not None else ".".join(where)
    return f"{label} has no key '{key}'; its keys: {', '.join(known)}{guess}"


def override_error_line(err: OverrideParseException, args: Sequence[str] = ()) -> str:
    """One line for an override Hydra's grammar cannot read, with the way to write it: a value
    with `~`, non-ASCII letters or `=` quoted (and the whole override in shell quotes), a value
    the shell split at a space joined again. `args` is the command line, to find what the
    shell split."""
    key, eq, value = err.override.partition("=")
    if not eq:
        return not_an_override_line(err.override, args)
    quoted = f'{key}="{value}"'
    if '"' in value or not _parses(quoted):
        return f"cannot read the override {err.override!r}: {_grammar_refusal(err)} ({GRAMMAR})"
    return (
        f"cannot read the override {err.override!r}: {_grammar_refusal(err)}; quote the "
        f"value, and the whole override for the shell: {shlex.quote(quoted)}"
    )


#: Where Hydra documents how overrides are written.
GRAMMAR = "see https://hydra.cc/docs/advanced/override_grammar/basic"


def not_an_override_line(word: str, args: Sequence[str]) -> str:
    """`word` has no `=`: most often the rest of a value the shell split at a space (with
    the words after it up to the next override), to be quoted with the override before it."""
    at = list(args).index(word) if word in args else 0
    start = next((i for i in range(at - 1, -1, -1) if "=" in args[i]), None)
    if start is None or args[start].startswith("-"):
        return f"{word!r} is not an override: write group=option or key=value ({GRAMMAR})"
    end = next((i for i in range(at, len(args)) if "=" in args[i]), len(args))
    joined = " ".join(args[start:end])
    return (
        f"{word!r} is not an override (key=value); if it is the rest of a value with a "
        f"space, quote the whole override for the shell: {shlex.quote(joined)}"
    )


def _grammar_refusal(err: OverrideParseException) -> str:
    """What Hydra's grammar refused: the character its lexer stopped at, or the parser's
    first line."""
    first, *rest = err.message.splitlines()
    prefix = "LexerNoViableAltException: "
    if first.startswith(prefix) and rest and "^" in rest[0]:
        at = rest[0].index("^") - len(prefix)
        if 0 <= at < len(err.override):
            where = "a value" if at > err.override.find("=") >= 0 else "a key"
            return f"{err.override[at]!r} cannot stand unquoted in {where}"
    return first.removeprefix(f"Error parsing override '{err.override}' ").strip()


def _parses(override: str) -> bool:
    """Whether Hydra's grammar reads `override`."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import HydraException

    try:
        OverridesParser.create().parse_override(override)
    except HydraException:
        return False
    return True


def config_error_line(err: BaseException, args: Sequence[str] = ()) -> str:
    """One line for an OmegaConf or Hydra composition error (the exception or its cause).
    `args`: the command line, for an override the shell split at a space."""
    from hydra.errors import MissingConfigException, OverrideParseException
    from omegaconf.errors import ConfigAttributeError, ConfigKeyError, OmegaConfBaseException

    if isinstance(err, OverrideParseException):
        return override_error_line(err, args)
    if isinstance(err, MissingConfigException) and err.missing_cfg_file and err.options:
        group, _, option = err.missing_cfg_file.rpartition("/")
        return unknown_name(group or "config", option, err.options) + did_you_mean(
            option, err.options, f"{group}={{}}" if group else "{}"
        )
    cause = err if isinstance(err, OmegaConfBaseException) else err.__cause__
    if isinstance(cause, ConfigKeyError | ConfigAttributeError) and cause.full_key:
        parent = cause.parent_node if isinstance(cause.parent_node, DictConfig) else None
        return unknown_key_line(cause.full_key, parent)
    if isinstance(cause, OmegaConfBaseException):
        text = str(cause).splitlines()[0]
        key = getattr(cause, "full_key", None)
        return f"{key}: {text}" if key else text
    return " ".join(str(err).split())
