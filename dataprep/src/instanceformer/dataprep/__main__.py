"""Allow ``python -m instanceformer.dataprep``."""

from instanceformer.dataprep.cli import main

main()
