"""Allow ``python -m instanceformer.submit``."""

from instanceformer.submit.cli import main

main()
