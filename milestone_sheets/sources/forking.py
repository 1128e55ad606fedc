"""Helper processes forked for a large sheet: when one may be forked, and how its answer
is collected, or the child stopped when nobody collects it."""

from __future__ import annotations

import gc
import marshal
import os
import signal
import sys
import threading
import weakref
from collections.abc import Callable, Sequence
from typing import Any


def can_fork() -> bool:
    """A child can be forked safely: POSIX, and no other thread whose locks it could inherit."""
    return hasattr(os, "fork") and sys.platform != "darwin" and threading.active_count() == 1


def fork(work: Callable[[], Any], child_closes: Sequence[int] = ()) -> Child | None:
    """Fork a child that closes `child_closes`, runs `work` and answers with what it
    returns (marshalled; None: no answer), then exits. This process keeps its copies of
    `child_closes` (stopping the child closes them too). None where no child could be
    forked."""
    try:
        answer_read, answer_write = os.pipe()
    except OSError:  # out of descriptors
        return None
    try:
        pid = os.fork()
    except OSError:  # out of processes or memory, or forbidden here
        os.close(answer_read)
        os.close(answer_write)
        return None
    if pid == 0:  # the child: never returns into the caller's code
        status = 1
        try:
            gc.disable()  # a collection would touch, and so copy, every page of the heap
            os.close(answer_read)
            for fd in child_closes:
                os.close(fd)
            answer = work()
            if answer is not None:
                with os.fdopen(answer_write, "wb") as out:
                    out.write(marshal.dumps(answer))
                status = 0
        finally:
            os._exit(status)
    os.close(answer_write)
    return Child(pid, answer_read, child_closes)


class Child:
    """A forked child: its answer collected once; stopped and reaped, its descriptors
    closed, when it is stopped or dropped uncollected."""

    def __init__(self, pid: int, answer_read: int, kept: Sequence[int] = ()):
        self.pid = pid
        self.answer_read = answer_read
        # The descriptors still open, for the finalizer (one closed by close_fd leaves the
        # list: its number may be reused by then).
        self._open = [answer_read, *kept]
        self._stop = weakref.finalize(self, abandon, pid, self._open)

    def close_fd(self, fd: int) -> None:
        """Close one of the kept descriptors now."""
        self._open.remove(fd)
        os.close(fd)

    def answer(self) -> Any:
        """What the child answered, waiting for it to exit; None as `collect` gives it."""
        self._stop.detach()
        return collect(self.pid, self.answer_read)

    def stop(self) -> None:
        """Stop and reap the child unless its answer was collected."""
        self._stop()


def collect(pid: int, answer_read: int) -> Any:
    """A forked child's answer, once it has exited; None unless it exited with status 0
    (crashed, killed, raised, or had no answer) and its whole answer loads."""
    try:
        with os.fdopen(answer_read, "rb") as source:
            data = source.read()
    except OSError:
        data = b""
    try:
        _, status = os.waitpid(pid, 0)
    except ChildProcessError:  # reaped already (SIGCHLD ignored): the data tells
        status = 0
    if status != 0:
        return None
    try:
        return marshal.loads(data)  # a cut-off answer does not load
    except (EOFError, ValueError, TypeError):
        return None


def abandon(pid: int, open_fds: list[int]) -> None:
    """Stop and reap a child whose answer nobody collected, closing what was left open."""
    for fd in open_fds:
        try:
            os.close(fd)
        except OSError:
            pass
    try:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    except OSError:
        pass
