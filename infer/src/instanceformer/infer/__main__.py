"""Allow ``python -m instanceformer.infer``."""

from instanceformer.infer.cli import main

main()
