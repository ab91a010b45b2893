"""`python -m fraudsim` runs the command-line interface."""

from fraudsim.cli import main

main()
