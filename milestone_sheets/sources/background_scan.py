"""The formula scan of a large worksheet, in a child process that takes only idle CPU.

A sync's read keeps both cores busy (python-calamine parses two halves of the sheet at
once), while the parsing and status work after it runs on one core and leaves the other
idle. The formula scan (which cells hold a formula, and which of them have no saved
value) is needed only once the columns are parsed, so on a large sheet it runs in a
forked child under the idle scheduling class: it takes no CPU from the read, and runs
on the idle core afterwards. Its answer comes back through a pipe.

Any failure of the child (it crashed, was killed, or the scan raised) makes the parent
scan in-process, so errors are raised, and results are the same, as without a child.
"""

from __future__ import annotations

import gc
import marshal
import os
import sys
import threading
import weakref
from collections.abc import Callable
from pathlib import Path

from milestone_sheets.sources import sheetxml, zippkg

Scan = Callable[[], sheetxml.FormulaScan]


def scan_now(path: Path, entry: zippkg.Entry) -> sheetxml.FormulaScan:
    with open(path, "rb") as stream:
        return sheetxml.scan_formulas(zippkg.iter_part(stream, entry))


def can_fork() -> bool:
    """A child can be forked safely: POSIX, and no other thread whose locks it could inherit."""
    return hasattr(os, "fork") and sys.platform != "darwin" and threading.active_count() == 1


def start(path: Path, entry: zippkg.Entry) -> Scan:
    """Scan the part in a child process; the returned function waits for its answer.
    Where no child can be started, the part is scanned here and now."""
    try:
        read_end, write_end = os.pipe()
    except OSError:
        scan = scan_now(path, entry)
        return lambda: scan
    try:
        pid = os.fork()
    except OSError:  # out of processes or memory, or forbidden here
        os.close(read_end)
        os.close(write_end)
        scan = scan_now(path, entry)
        return lambda: scan
    if pid == 0:  # the child: never returns into the caller's code
        status = 1
        try:
            gc.disable()  # a collection would touch, and so copy, every page of the heap
            os.close(read_end)
            _lower_priority()
            scan = scan_now(path, entry)
            data = marshal.dumps((scan.formula_cells, scan.uncached_cells))
            with os.fdopen(write_end, "wb") as out:
                out.write(data)
            status = 0
        finally:
            os._exit(status)
    os.close(write_end)
    pending = _Pending(pid, read_end)
    return pending.result_or(lambda: scan_now(path, entry))


def _lower_priority() -> None:
    try:
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
    except (AttributeError, OSError):
        try:
            os.nice(19)
        except OSError:
            pass


class _Pending:
    """A running child: its answer, once; reaped even if nobody asks for it."""

    def __init__(self, pid: int, read_end: int):
        self.pid = pid
        self.read_end = read_end
        self._cleanup = weakref.finalize(self, _abandon, pid, read_end)

    def result_or(self, fallback: Scan) -> Scan:
        answer: list[sheetxml.FormulaScan] = []

        def result() -> sheetxml.FormulaScan:
            if not answer:
                scan = self._collect()
                answer.append(scan if scan is not None else fallback())
            return answer[0]

        return result

    def _collect(self) -> sheetxml.FormulaScan | None:
        self._cleanup.detach()
        try:
            with os.fdopen(self.read_end, "rb") as source:
                data = source.read()
        finally:
            _, status = os.waitpid(self.pid, 0)
        if status != 0:
            return None
        try:
            formulas, uncached = marshal.loads(data)
        except (EOFError, ValueError, TypeError):
            return None
        return sheetxml.FormulaScan(formulas, uncached)


def _abandon(pid: int, read_end: int) -> None:
    """Stop and reap a child whose answer nobody collected."""
    import signal

    os.close(read_end)
    try:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    except OSError:
        pass
