"""`python -m cli` runs the `sena` command line."""

from cli.app import main

main()
