"""Typed configuration: frozen dataclasses, YAML presets and validated ``a.b=c`` overrides."""

from instanceformer.core.config.loader import (
    config_from_dict,
    config_hash,
    config_to_dict,
    dump_config,
    list_presets,
    load_config,
)
from instanceformer.core.config.schema import (
    CONFIG_SCHEMA_VERSION,
    BackboneConfig,
    Config,
    DataConfig,
    InferConfig,
    LossConfig,
    MaskHeadConfig,
    ModelConfig,
    PublishedConfig,
    TemporalConfig,
    TrainConfig,
    TransformerConfig,
)

__all__ = [
    "CONFIG_SCHEMA_VERSION",
    "BackboneConfig",
    "Config",
    "DataConfig",
    "InferConfig",
    "LossConfig",
    "MaskHeadConfig",
    "ModelConfig",
    "PublishedConfig",
    "TemporalConfig",
    "TrainConfig",
    "TransformerConfig",
    "config_from_dict",
    "config_hash",
    "config_to_dict",
    "dump_config",
    "list_presets",
    "load_config",
]
