"""The one error of configuration (kept apart so the settings modules share it without a cycle)."""
from __future__ import annotations


class ConfigError(ValueError):
    """A setting is missing, unknown or has the wrong type."""
