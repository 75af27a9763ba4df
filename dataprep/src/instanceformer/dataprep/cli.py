"""Command-line interface of ``ifm-prep``."""

from __future__ import annotations

import sys

from instanceformer.core.cli import create_app, run_app

app = create_app("ifm-prep", "instanceformer-dataprep", "Prepare datasets: generate the synthetic VIS dataset, check and split real ones.")


def main() -> None:
    """Entry point of the ``ifm-prep`` console script."""
    sys.exit(run_app(app))
