"""The crash-safety layer of a bundle being written: lock, journal of committed chunks, debris.

A bundle is built in a sibling directory ``DIR.tmp-<pid>-<hex>`` holding ``lock`` (the writer's
pid), ``journal.jsonl`` (a header line naming the run, then one line per committed chunk with
its file's sha256) and the chunk files. A chunk is written to a temporary name, fsynced, renamed
into place, and only then appended to the journal (and the journal fsynced): a line in the
journal is a promise that its file is complete. After ``kill -9`` the directory of the dead
process is either resumed (same run, ``resume=True``) or removed by the next writer of DIR.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import json
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from resurgence.core.atomic import atomic_write_text, fsync_dir, sha256_file

JOURNAL = "journal.jsonl"
LOCK = "lock"
_TMP_RE = re.compile(r"^(?P<name>.+)\.tmp-(?P<pid>\d+)-[0-9a-f]+(?P<old>-old)?$")


def pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, someone else's
        return True
    return True


def write_lock(tmp_dir: Path) -> None:
    atomic_write_text(tmp_dir / LOCK, json.dumps({"pid": os.getpid()}) + "\n")


def _owner(path: Path, name_pid: int) -> int:
    try:
        return int(json.loads((path / LOCK).read_text(encoding="utf-8"))["pid"])
    except (OSError, ValueError, KeyError, TypeError):
        return name_pid


def debris(out_dir: Path) -> Iterator[tuple[Path, bool]]:
    """Temporary directories of ``out_dir`` left by dead processes: (path, is_old_copy)."""
    try:
        siblings = list(out_dir.parent.iterdir())
    except FileNotFoundError:
        return
    for p in sorted(siblings):
        m = _TMP_RE.match(p.name)
        if m and m["name"] == out_dir.name and p.is_dir() and not pid_alive(_owner(p, int(m["pid"]))):
            yield p, bool(m["old"])


def collect_debris(out_dir: Path, keep: Path | None = None) -> None:
    """Remove dead writers' temporary directories of ``out_dir`` (except ``keep``); an old copy
    left by a crash in the middle of a non-atomic replacement is put back if DIR is missing."""
    for p, old in debris(out_dir):
        if p == keep:
            continue
        if old and not out_dir.exists():
            os.rename(p, out_dir)
            fsync_dir(out_dir.parent)
        else:
            shutil.rmtree(p, ignore_errors=True)


def read_journal(tmp_dir: Path) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    """The header and the committed chunk records whose files are intact (sha256 checked)."""
    path = tmp_dir / JOURNAL
    try:
        raw = path.read_bytes()
    except OSError:
        return None, []
    lines = raw.split(b"\n")
    if lines and lines[-1]:  # a torn last line: not committed
        with open(path, "r+b") as fh:
            fh.truncate(len(raw) - len(lines[-1]))
    header, records = None, {}
    for line in lines[:-1]:
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        if "header" in rec:
            header = rec["header"]
        elif header is not None and "file" in rec:
            f = tmp_dir / rec["file"]
            if f.is_file() and sha256_file(f) == rec["sha256"]:
                records[rec["file"]] = rec
    return header, list(records.values())


def find_resumable(out_dir: Path, run_key: str) -> Path | None:
    """A dead writer's temporary directory of the same run (its journal header's key)."""
    for p, old in debris(out_dir):
        if not old:
            header, _ = read_journal(p)
            if header is not None and header.get("run_key") == run_key:
                return p
    return None


class Journal:
    """Append-only, fsynced record of committed chunks."""

    def __init__(self, tmp_dir: Path, header: dict[str, Any] | None = None) -> None:
        self.path = tmp_dir / JOURNAL
        self._fh = open(self.path, "ab")  # noqa: SIM115 - closed in close()
        if header is not None:
            self.append({"header": header})

    def append(self, rec: dict[str, Any]) -> None:
        self._fh.write(json.dumps(rec, separators=(",", ":")).encode() + b"\n")
        self._fh.flush()
        os.fsync(self._fh.fileno())

    def close(self) -> None:
        self._fh.close()


_RENAME_EXCHANGE = 2


def _renameat2() -> Any:
    name = ctypes.util.find_library("c")
    try:
        fn = ctypes.CDLL(name, use_errno=True).renameat2
    except (OSError, AttributeError):
        return None
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    return fn


def exchange(a: Path, b: Path) -> bool:
    """Atomically swap two paths (Linux ``renameat2(RENAME_EXCHANGE)``); False if unsupported."""
    fn = _renameat2()
    if fn is None:
        return False
    at_fdcwd = -100
    if fn(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in (22, 38, 95):  # EINVAL, ENOSYS, EOPNOTSUPP: the file system cannot
        return False
    raise OSError(err, os.strerror(err), str(b))
