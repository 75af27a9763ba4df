"""Allow ``python -m instanceformer.analysis``."""

from instanceformer.analysis.cli import main

main()
