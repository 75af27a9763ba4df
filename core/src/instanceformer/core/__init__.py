"""Core of the InstanceFormer toolkit: configuration, formats, model, losses and the online engine."""

from importlib import metadata

from instanceformer.core.config import Config, dump_config, list_presets, load_config
from instanceformer.core.errors import ConfigError, FormatError, UserError

__version__ = metadata.version("instanceformer-core")

__all__ = [
    "Config",
    "ConfigError",
    "FormatError",
    "UserError",
    "__version__",
    "dump_config",
    "list_presets",
    "load_config",
]
