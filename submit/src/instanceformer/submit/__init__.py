"""The ifm-submit stage tool of the InstanceFormer toolkit."""

from importlib import metadata

__version__ = metadata.version("instanceformer-submit")
