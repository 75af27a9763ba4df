"""Core of the InstanceFormer toolkit: configuration, formats, model, losses and the online engine."""

from importlib import metadata

from instanceformer.core.config import Config, dump_config, list_presets, load_config
from instanceformer.core.errors import ConfigError, FormatError, UserError

__version__ = metadata.version("instanceformer-core")

# the model API imports torch; it is loaded on first use so that light commands stay fast
_MODEL_EXPORTS = {
    "FrameOutputs": "instanceformer.core.model",
    "InstanceFormer": "instanceformer.core.model",
    "TrackingState": "instanceformer.core.model",
    "build_model": "instanceformer.core.model",
    "InstanceFormerCriterion": "instanceformer.core.losses",
    "build_criterion": "instanceformer.core.losses",
}


def __getattr__(name: str):
    if name in _MODEL_EXPORTS:
        import importlib

        return getattr(importlib.import_module(_MODEL_EXPORTS[name]), name)
    raise AttributeError(f"module 'instanceformer.core' has no attribute '{name}'")


__all__ = [
    "Config",
    "ConfigError",
    "FormatError",
    "FrameOutputs",
    "InstanceFormer",
    "InstanceFormerCriterion",
    "TrackingState",
    "UserError",
    "__version__",
    "build_criterion",
    "build_model",
    "dump_config",
    "list_presets",
    "load_config",
]
