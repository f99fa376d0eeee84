"""What composition cannot check, and errors worded as one line.

`validate` refuses keys appended with `+key=value` that no schema has and values outside their
key's `Range`; `typed` rebuilds a saved config (a checkpoint's) on its options' schemas,
upgrading one written by an older gancli; `config_error_line` words OmegaConf's and Hydra's
multi-line errors as the one line a user reads.
"""

from __future__ import annotations

import dataclasses

from omegaconf import DictConfig, ListConfig, OmegaConf

from gancli.config.schemas import SCHEMAS, option_schema
from gancli.errors import ConfigError
from gancli.registry import unknown_name

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
        node = raw.get(group)
        schema = option_schema(group, node["name"]) if node and "name" in node else None
        if schema is not None:
            known = {f.name for f in dataclasses.fields(schema)}
            raw[group] = {k: v for k, v in node.items() if k in known or k not in keys}
    return raw


def typed(cfg: DictConfig | dict, app: type) -> DictConfig:
    """`cfg` (e.g. a checkpoint's saved config) merged onto the command's schema, each group
    onto its option's own schema: what composition gives, rebuilt without Hydra. Configs of an
    older gancli are `upgrade`d first."""
    raw = upgrade(cfg if isinstance(cfg, dict) else OmegaConf.to_container(cfg))
    base = OmegaConf.structured(app)
    for group in SCHEMAS:
        name = (raw.get(group) or {}).get("name")
        schema = option_schema(group, name) if group in base and name else None
        if schema is not None:
            base[group] = OmegaConf.structured(schema)
    try:
        return OmegaConf.merge(base, raw)
    except Exception as err:  # noqa: BLE001 (any OmegaConf error: worded as one line)
        raise ConfigError(config_error_line(err)) from None


def validate(cfg: DictConfig) -> None:
    """Refuse what composition lets through: keys appended with Hydra's `+key=value` that no
    schema has, and values outside their key's `Range`. One line naming the key, the value and
    what is allowed."""
    _validate_node(cfg, "")


def _validate_node(node: DictConfig, prefix: str) -> None:
    schema = OmegaConf.get_type(node)
    fields = {f.name: f for f in dataclasses.fields(schema)} if dataclasses.is_dataclass(
        schema) else {}
    for key in node:
        path = f"{prefix}{key}"
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
    known = ([f.name for f in dataclasses.fields(schema)] if dataclasses.is_dataclass(schema)
             else list(parent or []))
    keys = ", ".join(str(k) for k in known if k != "hydra")
    if not where:
        return f"'{key}' is not a setting of this command; its settings: {keys}"
    label = option_label(".".join(where), parent) if parent is not None else ".".join(where)
    return f"{label} has no key '{key}'; its keys: {keys}"


def config_error_line(err: BaseException) -> str:
    """One line for an OmegaConf or Hydra composition error (the exception or its cause)."""
    from hydra.errors import MissingConfigException
    from omegaconf.errors import ConfigAttributeError, ConfigKeyError, OmegaConfBaseException

    if isinstance(err, MissingConfigException) and err.missing_cfg_file and err.options:
        group, _, option = err.missing_cfg_file.rpartition("/")
        return unknown_name(group or "config", option, err.options)
    cause = err if isinstance(err, OmegaConfBaseException) else err.__cause__
    if isinstance(cause, ConfigKeyError | ConfigAttributeError) and cause.full_key:
        parent = cause.parent_node if isinstance(cause.parent_node, DictConfig) else None
        return unknown_key_line(cause.full_key, parent)
    if isinstance(cause, OmegaConfBaseException):
        text = str(cause).splitlines()[0]
        key = getattr(cause, "full_key", None)
        return f"{key}: {text}" if key else text
    return " ".join(str(err).split())
