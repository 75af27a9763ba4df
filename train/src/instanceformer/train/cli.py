"""Command-line interface of ``ifm-train``."""

from __future__ import annotations

import sys

from instanceformer.core.cli import create_app, run_app

app = create_app("ifm-train", "instanceformer-train", "Train InstanceFormer models and manage run folders.")


def main() -> None:
    """Entry point of the ``ifm-train`` console script."""
    sys.exit(run_app(app))
