"""Face: the Typer command-line app (one file per command group)."""

from resurgence.cli.app import app, main

__all__ = ["app", "main"]
