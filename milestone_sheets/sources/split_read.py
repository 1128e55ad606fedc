"""Reading one large worksheet with python-calamine on both cores.

calamine parses a worksheet on one thread, and on a large sheet that parse is most of a
sync's read. It releases the GIL while it parses, so two parses run side by side. This
module cuts the worksheet part at a row boundary near its middle and writes two temporary
copies of the package, each holding one half of the rows (stored, not compressed, and
every other part copied as its raw bytes); calamine reads both at once, and the halves are
joined into exactly the grid one read of the whole sheet gives (rows from A1, each as wide
as the widest, blank cells as "").

A half may only begin at a row that carries its number (`r`), since calamine counts rows
without one from the row before. Where no such cut is found, or the temporary copies
cannot be written, the sheet is read in one piece.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future
from pathlib import Path
from typing import Any, BinaryIO

import python_calamine

from milestone_sheets.sources import sheetxml, zippkg

# Below this many bytes of worksheet XML (about 20,000 milestone rows) one parse is quick
# and the copies would cost more than they save.
MIN_SPLIT_BYTES = 16 << 20

Rows = list[list[Any]]


def _read(path: Path, title: str, skip_empty_area: bool) -> tuple[tuple[int, int] | None, Rows]:
    sheet = python_calamine.CalamineWorkbook.from_path(str(path)).get_sheet_by_name(title)
    return sheet.start, sheet.to_python(skip_empty_area=skip_empty_area)


Opener = Callable[[], python_calamine.CalamineWorkbook]


def read_whole(workbook: Opener, title: str) -> Rows:
    """The worksheet's values from A1, as calamine reads them from the whole file."""
    return workbook().get_sheet_by_name(title).to_python(skip_empty_area=False)


def _first_half(cut: sheetxml.RowCut) -> Iterator[bytes]:
    """Head, the rows before the cut, and a closing (the whole part if there is no cut)."""
    yield cut.head
    yield from cut.before()
    if cut.rest is None:
        yield from cut.tail()
    else:
        yield cut.closing()


def _second_half(cut: sheetxml.RowCut) -> Iterator[bytes]:
    """Head, the rows from the cut, and the part's own tail."""
    yield cut.head
    yield from cut.after()
    yield from cut.tail()


def _join(first: Rows, second_start: tuple[int, int] | None, second: Rows) -> Rows | None:
    """The rows of one whole read, from the halves; None if the halves overlap."""
    if second_start is None or not second:
        return first
    top, left = second_start
    if top < len(first):  # rows out of order in the file: the halves overlap
        return None
    width = max(len(first[0]) if first else 0, left + len(second[0]))
    if left:
        pad = [""] * left
        second = [pad + row for row in second]
    rows = first
    if first and len(first[0]) < width:
        more = [""] * (width - len(first[0]))
        rows = [row + more for row in first]
    rows.extend([""] * width for _ in range(top - len(first)))
    if len(second[0]) < width:
        more = [""] * (width - len(second[0]))
        second = [row + more for row in second]
    rows.extend(second)
    return rows


def submit(
    pool: Executor,
    workbook: Opener,
    path: Path,
    stream: BinaryIO,
    entry: zippkg.Entry | None,
    title: str,
    min_split_bytes: int | None = None,
) -> Callable[[], Rows]:
    """Start reading a worksheet's values on `pool` (which needs two workers to split);
    return the function that waits for them. `workbook` gives the file opened with
    calamine (opening it reads its shared strings, which a split read does without),
    `stream` is the file itself and `entry` the worksheet's part in it."""
    if min_split_bytes is None:
        min_split_bytes = MIN_SPLIT_BYTES

    def whole() -> Callable[[], Rows]:
        return pool.submit(read_whole, workbook, title).result

    if entry is None or entry.size < min_split_bytes:
        return whole()
    try:
        folder = tempfile.TemporaryDirectory(prefix="milestone-sheets-")
    except OSError:  # no temporary space: one parse it is
        return whole()
    try:
        # The part is inflated from a second handle: the copies read `stream` meanwhile.
        with open(path, "rb") as part_stream:
            cut = sheetxml.RowCut(zippkg.iter_part(part_stream, entry), entry.size // 2)
            if cut.empty:
                raise _NoCut
            futures: list[Future[tuple[tuple[int, int] | None, Rows]]] = []
            for half, content, skip in (
                ("first", _first_half, False),
                ("second", _second_half, True),
            ):
                name = Path(folder.name) / f"{half}{path.suffix}"
                with open(name, "wb") as target:
                    zippkg.rewrite(stream, target, {}, level=0, contents={entry.name: content(cut)})
                futures.append(pool.submit(_read, name, title, skip))
                if cut.rest is None:
                    break
    except (OSError, _NoCut):
        folder.cleanup()
        return whole()
    except BaseException:
        folder.cleanup()
        raise

    def result() -> Rows:
        try:
            first = futures[0].result()[1]
            if len(futures) == 1:
                return first
            second_start, second = futures[1].result()
            joined = _join(first, second_start, second)
        finally:
            folder.cleanup()
        return joined if joined is not None else read_whole(workbook, title)

    return result


class _NoCut(Exception):
    """The worksheet cannot be split."""
