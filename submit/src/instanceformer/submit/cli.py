"""Command-line interface of ``ifm-submit``."""

from __future__ import annotations

import sys

from instanceformer.core.cli import create_app, run_app

app = create_app(
    "ifm-submit", "instanceformer-submit", "Validate, pack and upload results to the evaluation servers."
)


def main() -> None:
    """Entry point of the ``ifm-submit`` console script."""
    sys.exit(run_app(app))
