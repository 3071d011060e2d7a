"""Where Numba keeps its compiled-function cache, chosen before Numba is imported.

Numba caches ``cache=True`` functions in ``__pycache__`` beside the source, or else in the
user's cache directory (``$XDG_CACHE_HOME`` or ``~/.cache``); when neither can be written
(an installed copy in a read-only prefix with a read-only or missing home) it raises on
import, so every command, even ``--help``, would crash. :func:`configure`, run when
:mod:`resurgence` is imported, leaves Numba alone when the package's directory is writable,
and otherwise points ``NUMBA_CACHE_DIR`` at the first writable of the user's cache and a
per-user folder in the system temporary directory; it never overrides a value the user set.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import MutableMapping
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent.parent


def _writable(path: Path) -> bool:
    """True if ``path`` (created if missing) is a directory we can write to."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            return True
    except OSError:
        return False


def _user_cache(environ: MutableMapping[str, str]) -> Path | None:
    xdg = environ.get("XDG_CACHE_HOME")
    if xdg:
        return Path(xdg)
    home = environ.get("HOME")
    return Path(home) / ".cache" if home else None


def configure(environ: MutableMapping[str, str] | None = None,
              package_dir: Path = PACKAGE_DIR) -> str | None:
    """Set ``NUMBA_CACHE_DIR`` in ``environ`` (default ``os.environ``) if Numba's own
    locations cannot be written; returns the folder chosen (None: Numba's default)."""
    env = os.environ if environ is None else environ
    if env.get("NUMBA_CACHE_DIR"):
        return None
    if os.access(package_dir, os.W_OK) and _writable(package_dir / "core" / "__pycache__"):
        return None
    user = _user_cache(env)
    candidates = [user / "resurgence" / "numba"] if user is not None else []
    uid = os.getuid() if hasattr(os, "getuid") else "user"
    candidates.append(Path(tempfile.gettempdir()) / f"resurgence-numba-{uid}")
    for c in candidates:
        if _writable(c):
            env["NUMBA_CACHE_DIR"] = str(c)
            return str(c)
    return None
