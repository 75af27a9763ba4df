"""Installed versions of the toolkit's distributions."""

from __future__ import annotations

from importlib import metadata

TOOLKIT_DISTRIBUTIONS = (
    "instanceformer-core",
    "instanceformer-ops",
    "instanceformer-dataprep",
    "instanceformer-train",
    "instanceformer-infer",
    "instanceformer-submit",
    "instanceformer-analysis",
)


def distribution_version(distribution: str) -> str:
    """The installed version of ``distribution``, or ``"not installed"``."""
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "not installed"
