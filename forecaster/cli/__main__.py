"""`python -m forecaster.cli`: the same command as `forecaster`."""

from forecaster.cli import main

main()
