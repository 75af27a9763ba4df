"""Command-line interface of ``ifm-analysis``."""

from __future__ import annotations

import sys

from instanceformer.core.cli import create_app, run_app

app = create_app(
    "ifm-analysis",
    "instanceformer-analysis",
    "Study what a model learned: embeddings, reference points, sampling locations, videos, curves.",
)


def main() -> None:
    """Entry point of the ``ifm-analysis`` console script."""
    sys.exit(run_app(app))
