"""Core of the InstanceFormer toolkit, in two layers.

The torch-free layer (importing it never loads PyTorch): :mod:`~instanceformer.core.config`,
:mod:`~instanceformer.core.formats` (dataset, results, COCO, manifest, class index, data paths and
analysis-dump files), :mod:`~instanceformer.core.metrics` (the evaluator), :mod:`~instanceformer.core.runs`
(run folders), :mod:`~instanceformer.core.io`, :mod:`~instanceformer.core.errors`,
:mod:`~instanceformer.core.cli` and :mod:`~instanceformer.core.runtime` (what the stage tools share).

The torch layer: :mod:`~instanceformer.core.model` (the model and ``build_model``),
:mod:`~instanceformer.core.losses` and :mod:`~instanceformer.core.engine` (online inference,
checkpoints, analysis dumps).
"""

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
