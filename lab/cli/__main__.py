"""`python -m lab.cli`: the same commands as the `lab` console script."""

from lab.cli import app

app()
