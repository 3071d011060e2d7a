"""User errors: bad input that the library reports in one line naming the field and value.

Every stage raises a subclass of :class:`UserError` for input a user can fix (a scenario
file, a data file, an argument, a request). The faces turn it into their own idiom: the CLI
prints the line and exits with status 2, the web answers 4xx with it. Anything else that
escapes is a bug and is shown as one (see :mod:`resurgence.cli.console`). Messages name the
library's own field or argument (``runs``, ``params.attack_rate``), never a CLI flag, so the
same message is right for a web request and a command line.

``UserError`` subclasses :class:`ValueError` so that code written against ``ValueError``
keeps working.
"""

from __future__ import annotations

from typing import Any


class UserError(ValueError):
    """Bad input from a user; its message is one line naming the field and the value."""


class ScenarioError(UserError):
    """A scenario file or object is invalid."""


class TheatreError(UserError):
    """A theatre folder or its tables are invalid."""


class BundleError(UserError):
    """A results bundle is missing, incomplete or cannot be written where asked."""


class ObservationError(UserError):
    """An observation table is invalid."""


class ImportFormatError(UserError):
    """An event export (UCDP GED, ACLED) cannot be read."""


class PosteriorError(UserError):
    """A posterior file is invalid or cannot be used for the run asked for."""


class ArgumentError(UserError):
    """An argument of a library call (and so of a command or a request) is out of range."""


def field_error(field: str, value: Any, expected: str, cls: type[UserError] = ArgumentError,
                where: str | None = None) -> UserError:
    """``field 'runs' = 0: expected at least 1`` (prefixed by ``where:`` when given)."""
    shown = repr(value) if isinstance(value, str) else value
    msg = f"field '{field}' = {shown}: {expected}"
    return cls(f"{where}: {msg}" if where else msg)


def check_range(field: str, value: float, lo: float | None = None, hi: float | None = None,
                cls: type[UserError] = ArgumentError) -> None:
    """Raise ``field_error`` unless ``lo <= value <= hi`` (either bound may be open)."""
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        if lo is not None and hi is not None:
            expected = f"expected {lo} to {hi}"
        elif lo is not None:
            expected = f"expected at least {lo}"
        else:
            expected = f"expected at most {hi}"
        raise field_error(field, value, expected, cls)
