"""Commands whose modules load only when they run: the CLI starts without their imports.

A :class:`LazyGroup` lists a placeholder for each lazy command (its name, one-line help and
help panel, known without importing anything); the placeholder turns into the real Click
command, built from its Typer definition, the moment it is invoked (or asked for ``--help``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click
from typer.core import TyperGroup

Loader = Callable[[], click.Command]


class _Placeholder(click.Command):
    def __init__(self, name: str, short_help: str, panel: str, load: Loader) -> None:
        super().__init__(name, help=short_help, short_help=short_help)
        self.rich_help_panel = panel
        self._load = load

    def make_context(self, info_name: str | None, args: list[str],
                     parent: click.Context | None = None, **extra: Any) -> click.Context:
        return self._load().make_context(info_name, args, parent=parent, **extra)


class LazyGroup(TyperGroup):
    """A Typer group with commands registered by :func:`lazy_command`."""

    lazy: dict[str, _Placeholder] = {}

    def list_commands(self, ctx: Any) -> list[str]:
        return [*super().list_commands(ctx), *(n for n in self.lazy if n not in self.commands)]

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        return super().get_command(ctx, cmd_name) or self.lazy.get(cmd_name)


def lazy_command(name: str, short_help: str, panel: str, load: Loader) -> None:
    """Register ``name``; ``load()`` imports its module and returns the Click command."""
    LazyGroup.lazy[name] = _Placeholder(name, short_help, panel, load)
