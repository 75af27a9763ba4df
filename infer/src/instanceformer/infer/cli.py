"""Command-line interface of ``ifm-infer``."""

from __future__ import annotations

import sys

from instanceformer.core.cli import create_app, run_app

app = create_app(
    "ifm-infer", "instanceformer-infer", "Run online inference on datasets and videos, and evaluate results."
)


def main() -> None:
    """Entry point of the ``ifm-infer`` console script."""
    sys.exit(run_app(app))
