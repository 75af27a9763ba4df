"""Allow ``python -m instanceformer.train``."""

from instanceformer.train.cli import main

main()
