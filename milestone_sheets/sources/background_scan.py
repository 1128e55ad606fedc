"""The formula scan of a large worksheet, in a child process on the core the read leaves.

A sync's read keeps both cores busy (python-calamine parses two halves of the sheet at
once), while the parsing and status work after it runs on one core and leaves the other
idle. The formula scan (which cells hold a formula, and which of them have no saved
value) is needed only when the changed cells are planned (evaluation first takes every
saved value as given, and runs again in the rare case that a formula in a column it reads
has none). So on a large sheet a child process is forked before the read starts, waits
until the read is done (`go`), scans on the idle core while this process parses and
computes, and answers through a pipe.

The child waits on a pipe rather than running at a lower priority: an unprivileged
process cannot raise a child's priority again, and on a busy machine a low-priority
child could keep the sync waiting. Any failure of the child (it crashed, was killed, or
the scan raised) makes the parent scan in-process, so errors are raised, and results
are the same, as without a child.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Protocol

from milestone_sheets.sources import sheetxml, zippkg
from milestone_sheets.sources.forking import Child, can_fork, fork

__all__ = ["Scan", "can_fork", "scan_now", "start"]


class Scan(Protocol):
    def go(self) -> None:
        """The read is done: the scan may start now."""

    def result(self) -> sheetxml.FormulaScan:
        """The scan's answer, waiting for it if need be."""


def scan_now(path: Path, entry: zippkg.Entry) -> sheetxml.FormulaScan:
    with open(path, "rb") as stream:
        return sheetxml.scan_formulas(zippkg.iter_part(stream, entry))


class _Done:
    """A scan already made, in this process."""

    def __init__(self, scan: sheetxml.FormulaScan):
        self.scan = scan

    def go(self) -> None:
        pass

    def result(self) -> sheetxml.FormulaScan:
        return self.scan


def start(path: Path, entry: zippkg.Entry) -> Scan:
    """Fork a child that scans the part once told to `go`. Where no child can be started,
    the part is scanned here and now."""
    try:
        go_read, go_write = os.pipe()
    except OSError:  # out of descriptors
        return _Done(scan_now(path, entry))

    def work() -> tuple[frozenset[tuple[int, int]], frozenset[tuple[int, int]]] | None:
        if not os.read(go_read, 1):  # an empty read: the parent is gone, or gave up
            return None
        scan = scan_now(path, entry)
        return scan.formula_cells, scan.uncached_cells

    child = fork(work, child_closes=[go_write])
    os.close(go_read)
    if child is None:
        os.close(go_write)
        return _Done(scan_now(path, entry))
    return _Child(child, go_write, path, entry)


class _Child:
    """A forked child: told to go once, its answer collected once; stopped and reaped even
    if nobody asks for it."""

    def __init__(self, child: Child, go_write: int, path: Path, entry: zippkg.Entry):
        self.child = child
        self.go_write: int | None = go_write
        self.path, self.entry = path, entry
        self.answer: sheetxml.FormulaScan | None = None

    def go(self) -> None:
        if self.go_write is not None:
            try:
                os.write(self.go_write, b"1")
            except OSError:  # the child is gone: result() will scan here
                pass
            self.child.close_fd(self.go_write)
            self.go_write = None

    def result(self) -> sheetxml.FormulaScan:
        if self.answer is None:
            self.go()
            self.answer = self._collect() or scan_now(self.path, self.entry)
        return self.answer

    def _collect(self) -> sheetxml.FormulaScan | None:
        try:
            formulas, uncached = self.child.answer()
        except (TypeError, ValueError):  # no answer, or not this one
            return None
        return sheetxml.FormulaScan(formulas, uncached)
