"""The child side of a job: one spawned process per job, tied to the server's life.

Each job runs in its own process (so that one job's crash, kill or memory blow-up fails only
that job). At start the child

* asks Linux to kill it when the server dies (``prctl(PR_SET_PDEATHSIG, SIGKILL)`` through
  ctypes; elsewhere it notices that it was orphaned at its next progress report), and exits
  at once if the server is already gone;
* becomes the leader of its own process group, so that cancelling the job kills everything
  it started;
* reports start, progress and its result (or a one-line error) through its own pipe. A pipe
  per job means a killed worker cannot corrupt another job's messages.

A child that finds itself orphaned before it has reported its result removes its output and
exits: late results of an orphan are never left for a restarted server to trip on.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import shutil
import signal
import sys
import traceback
from collections.abc import Callable
from typing import Any

log = logging.getLogger("resurgence.web")

PR_SET_PDEATHSIG = 1
_conn: Any = None  # this job's pipe, in the child
_parent: int | None = None  # the server's pid, in the child


class Orphaned(SystemExit):
    """Raised in a worker whose server has gone: it stops and keeps nothing."""


def die_with_parent(parent_pid: int) -> bool:
    """Ask the kernel to SIGKILL this process when its parent dies (Linux); exit now if the
    parent is already gone. Returns whether the parent-death signal is armed."""
    armed = False
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            armed = libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0) == 0
        except (OSError, AttributeError):
            armed = False
    if os.getppid() != parent_pid:  # the server died before the signal was armed
        os._exit(1)
    return armed


def orphaned() -> bool:
    return _parent is not None and os.getppid() != _parent


def report(job_id: str, what: str, k: int | str = 0) -> None:
    """From a worker: 'start', 'total' (runs to do), 'progress' (runs done) or a stage text.
    An orphaned worker stops here."""
    if _conn is None:
        return
    if orphaned():
        raise Orphaned(1)
    _conn.send((what, k))


def one_line(exc: BaseException) -> str:
    msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return msg[:500]


def child_main(conn: Any, parent_pid: int, job_id: str, work: Callable[..., dict[str, Any]],
               out: str, args: tuple) -> None:
    """Entry point of a job's process."""
    global _conn, _parent
    die_with_parent(parent_pid)
    with contextlib.suppress(OSError):
        os.setpgid(0, 0)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the server's to handle
    _conn, _parent = conn, parent_pid
    try:
        summary = work(job_id, out, *args)
        if orphaned():
            raise Orphaned(1)
        conn.send(("result", summary))
    except Orphaned:
        shutil.rmtree(out, ignore_errors=True)
        os._exit(1)
    except Exception as exc:  # a failed job is reported, not raised
        traceback.print_exc(file=sys.stderr)
        with contextlib.suppress(OSError, ValueError):
            conn.send(("error", one_line(exc)))
    finally:
        with contextlib.suppress(OSError):
            conn.close()


def kill_job_process(proc: Any) -> None:
    """SIGKILL a job's process group (and the process itself, should it have none yet)."""
    if proc.pid is None:
        return
    with contextlib.suppress(OSError):
        if os.getpgid(proc.pid) == proc.pid:
            os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(OSError, ValueError):
        proc.kill()
