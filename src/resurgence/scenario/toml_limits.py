"""Scenario TOML read safely: size, nesting depth and key count bounded *before* parsing.

:mod:`tomllib` recurses on nested arrays and inline tables (a few hundred levels exhaust the
stack) and builds dotted keys (``a.a.a…a = 1``) in time quadratic in their length, so text
from a user is first scanned, in one linear pass without recursion, for

* its size: at most :data:`MAX_BYTES` (1 MiB);
* the nesting of arrays and inline tables: at most :data:`MAX_DEPTH` (32) levels;
* the parts of one dotted key or table header: at most :data:`MAX_KEY_PARTS` (32);
* the number of ``key = value`` pairs and table headers: at most :data:`MAX_KEYS` (10,000);
* the number of array items (commas): at most :data:`MAX_ITEMS` (20,000).

A shipped scenario uses under a tenth of each. The scan is a bound, not a parser: it only
skips strings and comments, and :mod:`tomllib` still decides what is valid. Every refusal is
one :class:`~resurgence.core.errors.ScenarioError` line naming the source.
"""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path
from typing import Any

from resurgence.core.errors import ScenarioError

MAX_BYTES = 1024 * 1024
MAX_DEPTH = 32
MAX_KEY_PARTS = 32
MAX_KEYS = 10_000

MAX_ITEMS = 20_000
_INTERESTING = re.compile(r"[#\"'.\[\]{}=,\n]")


_BASIC = re.compile(r'[^"\\\n]*(?:\\.?[^"\\\n]*)*(?:"|$|(?=\n))', re.M)  # unrolled: linear
_BASIC_ML = re.compile(r'[^"\\]*(?:(?:\\.?|"(?!""))[^"\\]*)*(?:"""|\Z)', re.S)


def _skip_string(text: str, i: int) -> int:
    """Index just after the string that starts at ``i`` (or the end of its line or text)."""
    q = text[i]
    n = len(text)
    if text.startswith(q * 3, i):
        if q == '"':
            m = _BASIC_ML.match(text, i + 3)
            j = m.end() if m else n
        else:
            j = text.find("\'\'\'", i + 3)
            j = n if j < 0 else j + 3
        while j < n and text[j] == q:  # up to two quotes may close the content
            j += 1
        return j
    if q == '"':
        m = _BASIC.match(text, i + 1)
        return m.end() if m else n
    j, nl = text.find("'", i + 1), text.find("\n", i + 1)
    if j < 0 or (0 <= nl < j):
        return n if nl < 0 else nl
    return j + 1


def check_shape(text: str, source: str) -> None:
    """Raise ScenarioError if ``text`` is too large, nested too deeply, or has too many keys,
    key parts or array items."""
    if len(text) > MAX_BYTES:
        raise ScenarioError(f"{source}: {len(text):,} characters: at most {MAX_BYTES:,} in a "
                            "scenario")
    depth = parts = keys = items = 0
    i, n = 0, len(text)

    def line() -> int:
        return text.count("\n", 0, i) + 1

    while (m := _INTERESTING.search(text, i)) is not None:
        i = m.start()
        c = text[i]
        if c == "#":
            j = text.find("\n", i)
            i = n if j < 0 else j
            continue
        if c in "\"'":
            i = _skip_string(text, i)
            continue
        if c == ".":
            if not (0 < i < n - 1 and text[i - 1].isdigit() and text[i + 1].isdigit()):
                parts += 1
                if parts >= MAX_KEY_PARTS:
                    raise ScenarioError(f"{source}: a dotted key with more than "
                                        f"{MAX_KEY_PARTS} parts (line {line()})")
            i += 1
            continue
        parts = 0
        if c in "[{":
            if c == "[" and depth == 0 and not text[text.rfind("\n", 0, i) + 1:i].strip():
                keys += 1  # a table header counts as a key
            depth += 1
            if depth > MAX_DEPTH:
                raise ScenarioError(f"{source}: arrays or tables nested more than {MAX_DEPTH} "
                                    f"deep (line {line()})")
        elif c in "]}":
            depth = max(0, depth - 1)
        elif c == ",":
            items += 1
            if items > MAX_ITEMS:
                raise ScenarioError(f"{source}: more than {MAX_ITEMS:,} array items or inline "
                                    "keys in a scenario")
        if c == "=":
            keys += 1
        if keys > MAX_KEYS:
            raise ScenarioError(f"{source}: more than {MAX_KEYS:,} keys or tables in a scenario")
        i += 1


def loads(text: str, source: str) -> dict[str, Any]:
    """Parse scenario TOML text after :func:`check_shape`; one-line ScenarioError if bad."""
    check_shape(text, source)
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"{source}: TOML syntax error: {exc}") from None
    except RecursionError:  # not reachable within MAX_DEPTH; kept as a last guard
        raise ScenarioError(f"{source}: TOML nested too deeply") from None


def read_text(path: Path, source: str | None = None) -> str:
    """A scenario file's text: its size checked before reading, UTF-8 or a one-line error.
    OS errors (missing, unreadable, a directory, a name too long) propagate as OSError with
    the path, which the faces report in one line."""
    source = source or str(path)
    with open(path, "rb") as fh:
        size = os.fstat(fh.fileno()).st_size
        if size > MAX_BYTES:
            raise ScenarioError(f"{source}: {size:,} bytes: at most {MAX_BYTES:,} in a scenario")
        data = fh.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        raise ScenarioError(f"{source}: more than {MAX_BYTES:,} bytes: too large for a scenario")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ScenarioError(f"{source}: not a scenario file: not UTF-8 text (byte "
                            f"{exc.start}: {exc.reason})") from None
