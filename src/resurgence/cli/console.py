"""What every command shares: the consoles, the progress display and the error policy.

Error policy. A :class:`~resurgence.core.errors.UserError` (bad input: a scenario, a data
file, an argument) and an :class:`OSError` on a path the user named (unreadable, missing,
read-only, full disk) print one line on stderr and exit with status 2. Anything else is a
bug: it prints a short crash report (the exception, where it was raised, and a file with
the full traceback) and exits with status 70 (``EX_SOFTWARE``), so that a bug never passes
for a user error.
"""

from __future__ import annotations

import functools
import os
import re
import sys
import tempfile
import traceback
from collections.abc import Callable
from typing import Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from resurgence.core.errors import UserError


def _flags_without_type() -> None:
    """Typer's help shows a value type for every option, '<bool>' for on/off flags too; a
    flag takes no value, so it shows none."""
    from typer.core import TyperOption

    shown = TyperOption.display_type_rich

    def display_type_rich(self, ctx):  # noqa: ANN001, ANN202
        return None if self.is_flag else shown(self, ctx)

    TyperOption.display_type_rich = display_type_rich  # type: ignore[method-assign]


_flags_without_type()

console = Console(width=None if sys.stdout.isatty() else 150)
err = Console(stderr=True)

F = TypeVar("F", bound=Callable[..., Any])

EX_USAGE, EX_SOFTWARE = 2, 70


def fail(msg: object) -> typer.Exit:
    """Print ``error: msg`` (one line) on stderr; return the Exit to raise."""
    err.print(f"[bold red]error:[/] {escape(str(msg))}", markup=True, highlight=False,
              soft_wrap=True)
    return typer.Exit(EX_USAGE)


_TEMP = re.compile(r"^\.?(?P<name>.+?)\.tmp-\d+-[0-9a-f]+$")  # core.atomic's temp siblings


def _os_message(exc: OSError) -> str:
    """``path: reason``, naming the target rather than the temp file written beside it."""
    path = str(exc.filename) if exc.filename is not None else ""
    if path and (m := _TEMP.match(os.path.basename(path))):
        path = os.path.join(os.path.dirname(path), m["name"])
    reason = exc.strerror or str(exc)
    return f"{path}: {reason}" if path else reason


def crash_report(exc: BaseException) -> typer.Exit:
    """Say that this is a bug, where it happened, and where the full traceback is."""
    tb = traceback.extract_tb(exc.__traceback__)
    where = f"{os.path.basename(tb[-1].filename)}:{tb[-1].lineno} in {tb[-1].name}" if tb else "?"
    text = "".join(traceback.format_exception(exc))
    try:
        fd, path = tempfile.mkstemp(prefix="resurgence-crash-", suffix=".txt")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        saved = f"full traceback in {path}"
    except OSError:
        saved = "the traceback could not be saved"
    err.print(f"[bold red]internal error (a bug, not your input):[/] "
              f"{escape(type(exc).__name__)}: {escape(str(exc))} at {escape(where)}; "
              f"{escape(saved)}. Please report it.", markup=True, highlight=False, soft_wrap=True)
    return typer.Exit(EX_SOFTWARE)


def user_errors(fn: F) -> F:
    """Wrap a command with the error policy above."""
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (typer.Exit, typer.Abort, KeyboardInterrupt, SystemExit):
            raise
        except UserError as exc:
            raise fail(exc) from None
        except OSError as exc:
            raise fail(_os_message(exc)) from None
        except Exception as exc:  # noqa: BLE001 - the point is to show bugs as bugs
            if os.environ.get("RESURGENCE_DEBUG"):
                raise
            raise crash_report(exc) from None
    return wrapper  # type: ignore[return-value]


def progress_bar() -> Progress:
    """One Rich progress display (stderr, off when stderr is not a terminal); each task
    carries its own description."""
    return Progress(TextColumn("[bold]{task.description}[/]"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), console=err, transient=False,
                    disable=not sys.stderr.isatty())
