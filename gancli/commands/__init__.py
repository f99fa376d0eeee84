"""One Hydra app per CLI command. Each composes and validates its config, then imports torch."""

from gancli.config import register_configs

register_configs()
