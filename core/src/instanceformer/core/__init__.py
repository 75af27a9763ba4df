"""Core of the InstanceFormer toolkit: configuration, formats, model, losses and the online engine."""

from importlib import metadata

__version__ = metadata.version("instanceformer-core")
