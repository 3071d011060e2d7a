"""Face: the Typer command-line app (``resurgence.cli.app:app``), one file per command group."""
