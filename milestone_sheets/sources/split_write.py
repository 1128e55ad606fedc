"""The edit of a large worksheet part in two processes, one half each.

Editing a large sheet's XML (finding each changed row and replacing its cells) is most of
a weekly sync's write, and it is Python work that runs on one core. For a large part
whose edit adds no column, the writer forks a child before its own threads start. Both
processes read the part and cut it at the same numbered row near its middle
(sheetxml.RowCut). This process edits and deflates the head and the first half; the
child edits the second half and the tail and deflates them as a stream of their own into
an unnamed temporary file, then answers with their CRC-32, their length and where it
cut. The child's piece joins the part as a zippkg.Deflated: the part holds the same
content as one edit of the whole gives.

Any failure of the child (it crashed, was killed, raised, found no temporary space, or
cut elsewhere) makes this process edit the second half itself, so that errors are raised,
and results are the same, as without a child.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import BinaryIO, cast

from milestone_sheets.sources import sheetxml, zippkg
from milestone_sheets.sources.forking import Child, can_fork, fork

# Below this many bytes of worksheet XML (about 20,000 milestone rows) the edit is quick
# and a child would cost more than it saves.
MIN_SPLIT_BYTES = 16 << 20

Edits = Mapping[int, Mapping[int, sheetxml.Edit]]


def transform(
    path: Path, entry: zippkg.Entry, edits: Edits, level: int
) -> zippkg.Transform | zippkg.Inline:
    """The sheet part's transform for zippkg.rewrite. Call it before rewrite starts its
    threads: for a large part it forks the child that edits the second half, and this
    process's half is then done on one thread (zippkg.Inline)."""
    child = None
    if (
        level
        and entry.size >= MIN_SPLIT_BYTES
        and not _adds_columns(edits)
        and zippkg.can_join_deflated()
        and can_fork()
    ):
        child = _start(path, entry, edits, level)
    if child is None:
        return lambda chunks: sheetxml.rewrite_sheet(chunks, edits)
    return zippkg.Inline(lambda chunks: _halves(chunks, entry, edits, child))


def _adds_columns(edits: Edits) -> bool:
    """Does the edit add computed columns, as a first sync does? Their header cells take a
    neighbour's style (`style_like`).

    Then every row gets new cells at its end, which is quick to edit: on 100,000 rows the
    child saved nothing (write 0.86-1.14 s against 0.89-1.19 s) and, with the first sync's
    larger heap to copy on write, took the two processes to 435 MB together. A weekly sync
    replaces cells inside rows, where the child saves about 0.3 s."""
    header = edits[min(edits)] if edits else {}
    return any(edit.style_like is not None for edit in header.values())


def _halves(
    chunks: Iterator[bytes], entry: zippkg.Entry, edits: Edits, child: _Child
) -> Iterator[bytes | zippkg.Deflated]:
    try:
        cut = sheetxml.RowCut(chunks, _cut_at(entry))
        yield from sheetxml.rewrite_first_half(cut, edits)
        if cut.rest is None:  # no cut: the first half was the whole part
            return
        piece = child.result(cut.offset)
        if piece is None:
            yield from sheetxml.rewrite_second_half(cut, edits)
        else:
            yield piece
    finally:
        child.close()


def _cut_at(entry: zippkg.Entry) -> int:
    # A little past the middle: the child also inflates the first half to find the cut,
    # and deflates its own half where this process has a thread for it.
    return entry.size * 11 // 20


def _start(path: Path, entry: zippkg.Entry, edits: Edits, level: int) -> _Child | None:
    try:
        data = cast(BinaryIO, tempfile.TemporaryFile(prefix="milestone-sheets-"))
    except OSError:
        return None
    child = fork(lambda: _second_half(path, entry, edits, level, data))
    if child is None:
        data.close()
        return None
    return _Child(child, data)


def _second_half(
    path: Path, entry: zippkg.Entry, edits: Edits, level: int, out: BinaryIO
) -> tuple[int, int, int]:
    """In the child: (CRC-32, length, cut offset) of the edited second half, deflated
    into `out`."""
    with open(path, "rb") as stream:
        cut = sheetxml.RowCut(zippkg.iter_part(stream, entry), _cut_at(entry))
        for _ in cut.before():
            pass
        crc, size = zippkg.deflate_piece(sheetxml.rewrite_second_half(cut, edits), out, level)
    out.flush()
    return crc, size, cut.offset


class _Child:
    """The forked child and the file it writes its half to."""

    def __init__(self, child: Child, data: BinaryIO):
        self.child = child
        self.data = data
        self.handed = False

    def result(self, offset: int) -> zippkg.Deflated | None:
        """The second half from the cut at `offset`; None if the child failed or cut
        elsewhere."""
        try:
            crc, size, child_offset = self.child.answer()
        except (TypeError, ValueError):  # no answer, or not this one
            return None
        if child_offset != offset:
            return None
        self.data.seek(0)
        self.handed = True
        return zippkg.Deflated(self.data, crc, size)

    def close(self) -> None:
        """Stop the child if nobody collected it; close its file unless handed over."""
        self.child.stop()
        if not self.handed:
            self.data.close()
