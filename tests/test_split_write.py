"""A large sheet edited in two processes gives the part one process gives.

The split is forced on small plans here (no minimum size). The child's failures (an
error, a kill, a cut elsewhere) must leave the second half to the parent, with the same
result; and a piece deflated elsewhere must join a zip part that any reader accepts.
"""

from __future__ import annotations

import io
import os
import random
import shutil
import signal
import threading
import zipfile
from datetime import date
from pathlib import Path

import pytest

from milestone_sheets.evaluate import Settings
from milestone_sheets.sources import sheetxml, split_write, zippkg
from milestone_sheets.sources.excel import ExcelSource
from milestone_sheets.sync import sync
from milestone_sheets.testing.generate import generate_plan

SHEET = "xl/worksheets/sheet1.xml"
FIRST, WEEKLY = date(2026, 6, 15), date(2026, 6, 22)


@pytest.fixture(scope="module")
def plan(tmp_path_factory) -> Path:
    """A plan synced once: the weekly sync after it replaces cells inside rows."""
    path = generate_plan(tmp_path_factory.mktemp("plan") / "plan.xlsx", 2500)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(split_write, "_start", lambda *args: pytest.fail("a child was forked"))
        sync(ExcelSource(path), Settings(), FIRST)
    return path


@pytest.fixture
def children(monkeypatch) -> list[object]:
    """Every large part's child (None where none was forked); the split forced."""
    started: list[object] = []
    real = split_write._start

    def counted(*args):
        child = real(*args)
        started.append(child)
        return child

    monkeypatch.setattr(split_write, "_start", counted)
    monkeypatch.setattr(split_write, "MIN_SPLIT_BYTES", 0)
    return started


def synced(plan: Path, folder: Path) -> bytes:
    """The sheet XML after a weekly sync of a copy of the plan."""
    path = folder / "copy.xlsx"
    shutil.copy(plan, path)
    sync(ExcelSource(path), Settings(), WEEKLY)
    with zipfile.ZipFile(path) as archive:
        assert archive.testzip() is None  # every part's CRC checks
        return archive.read(SHEET)


@pytest.fixture(scope="module")
def one_process(plan, tmp_path_factory) -> bytes:
    """The sheet after the weekly sync, edited whole."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(split_write, "MIN_SPLIT_BYTES", 1 << 62)  # whatever `children` forces
        patch.setattr(split_write, "_start", lambda *args: pytest.fail("a child was forked"))
        return synced(plan, tmp_path_factory.mktemp("whole"))


def test_two_processes_give_the_part_one_process_gives(
    plan, tmp_path, children, one_process, parent_halves
):
    assert synced(plan, tmp_path) == one_process
    assert children and all(child.handed for child in children)  # their halves joined
    assert parent_halves == []


def test_beside_a_child_this_process_starts_no_helper_threads(
    plan, tmp_path, children, one_process, monkeypatch
):
    """The child has the other core: this process inflates, edits and deflates its half
    on its own thread, where helper threads would only contend (zippkg.Inline)."""
    names: list[str] = []
    real_start = threading.Thread.start

    def start(thread):
        names.append(thread.name)
        real_start(thread)

    monkeypatch.setattr(threading.Thread, "start", start)
    assert synced(plan, tmp_path) == one_process
    assert children and all(child.handed for child in children)
    assert "inflate" not in names and "deflate" not in names
    # Without a child, the helper threads run as before.
    monkeypatch.setattr(split_write, "MIN_SPLIT_BYTES", 1 << 62)
    assert synced(plan, tmp_path) == one_process
    assert "inflate" in names and "deflate" in names


def test_an_edit_that_adds_columns_is_not_split(tmp_path, children):
    """A first sync appends cells to every row: quick to edit in one process."""
    path = generate_plan(tmp_path / "new.xlsx", 300)
    sync(ExcelSource(path), Settings(), FIRST)
    assert children == []
    sync(ExcelSource(path), Settings(), WEEKLY)
    assert len(children) == 1


def test_a_failing_child_leaves_the_second_half_to_the_parent(
    plan, tmp_path, children, one_process, monkeypatch, parent_halves
):
    def fails(*args):
        raise MemoryError("the child ran out")

    monkeypatch.setattr(split_write, "_second_half", fails)
    assert synced(plan, tmp_path) == one_process
    assert len(children) == 1 and parent_halves == [True]


def test_a_killed_child_leaves_the_second_half_to_the_parent(
    plan, tmp_path, children, one_process, monkeypatch
):
    def killed(*args):
        os.kill(os.getpid(), signal.SIGKILL)

    monkeypatch.setattr(split_write, "_second_half", killed)
    assert synced(plan, tmp_path) == one_process


def test_a_child_that_cut_elsewhere_is_not_joined(
    plan, tmp_path, children, one_process, monkeypatch, parent_halves
):
    real = split_write._second_half

    def elsewhere(*args):
        crc, size, offset = real(*args)
        return crc, size, offset + 1

    monkeypatch.setattr(split_write, "_second_half", elsewhere)
    assert synced(plan, tmp_path) == one_process
    assert parent_halves == [True]


@pytest.fixture
def parent_halves(monkeypatch) -> list[bool]:
    """One entry for each second half the parent edited itself."""
    parent = os.getpid()
    edited: list[bool] = []
    real = sheetxml.rewrite_second_half

    def counted(*args):
        if os.getpid() == parent:
            edited.append(True)
        return real(*args)

    monkeypatch.setattr(sheetxml, "rewrite_second_half", counted)
    return edited


def test_no_child_while_another_thread_runs(plan, tmp_path, children, one_process):
    """A child would inherit the other thread's locks: the part is edited whole."""
    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    try:
        assert synced(plan, tmp_path) == one_process
    finally:
        stop.set()
        other.join()
    assert children == []


def test_a_stored_part_is_not_split(tmp_path, children):
    """At level 0 there is nothing to join a deflated piece to."""
    entry = zippkg.Entry(SHEET, b"", 0, 0, 0, 8, 0, 0, 10, 1 << 30)
    split_write.transform(tmp_path / "none.xlsx", entry, {}, 0)
    assert children == []


def rewritten(transform, level: int = 6, inline: bool = False) -> bytes:
    source = io.BytesIO()
    with zipfile.ZipFile(source, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("a.txt", b"first " * 1000)
        archive.writestr("b.txt", b"untouched")
    target = io.BytesIO()
    source.seek(0)
    if inline:
        transform = zippkg.Inline(transform)
    zippkg.rewrite(source, target, {"a.txt": transform}, level)
    return target.getvalue()


def deflated_piece(content: bytes, level: int = 2) -> zippkg.Deflated:
    data = io.BytesIO()
    crc, size = zippkg.deflate_piece([content[:7], content[7:]], data, level)
    data.seek(0)
    return zippkg.Deflated(data, crc, size)


on_threads = pytest.mark.parametrize(
    "inline", [False, True], ids=["deflate thread", "inline"]
)  # zippkg.Inline: the part deflated on the calling thread, as beside a child


@on_threads
@pytest.mark.parametrize(
    "level, piece_level", [(6, 2), (zippkg.FAST, zippkg.FAST), (6, zippkg.FAST), (zippkg.FAST, 2)]
)
def test_a_piece_deflated_elsewhere_joins_the_part(level, piece_level, inline):
    """Whichever library deflated either side (ISA-L at FAST, zlib at 1-9)."""

    def transform(chunks):
        yield b"".join(chunks) + b"| "
        yield deflated_piece(b"second half " * 500, piece_level)

    with zipfile.ZipFile(io.BytesIO(rewritten(transform, level, inline))) as archive:
        assert archive.testzip() is None
        assert archive.read("a.txt") == b"first " * 1000 + b"| " + b"second half " * 500
        assert archive.read("b.txt") == b"untouched"


@on_threads
@pytest.mark.parametrize(
    "level, after, message",
    [(6, [b"more"], "content after a piece"), (0, [], "in a stored part")],
)
def test_a_deflated_piece_must_end_a_deflated_part(level, after, message, inline):
    def transform(chunks):
        yield b"".join(chunks)
        yield deflated_piece(b"end")
        yield from after

    with pytest.raises(zippkg.PackageError, match=message):
        rewritten(transform, level, inline)


def test_a_write_that_fails_at_the_part_end_is_raised_not_waited_for():
    """The deflate thread's last write (the stream's end, after close() sent its end mark)
    fails, as on a full disk: close() raises it, where the thread once waited for one more
    end mark that never came, and the sync hung."""

    class Full(io.BytesIO):
        full = False

        def write(self, data):
            if self.full and data:
                raise OSError(28, "No space left on device")
            return super().write(data)

    target = Full()
    deflate = zippkg._BackgroundDeflate(target, 6)
    deflate.put(b"x" * 1000)  # level 6 keeps this small input until the flush
    target.full = True
    raised: list[BaseException] = []

    def close():
        try:
            deflate.close()
        except OSError as err:
            raised.append(err)

    closer = threading.Thread(target=close, daemon=True)
    closer.start()
    closer.join(10)
    assert not closer.is_alive(), "close() hung"
    assert [err.errno for err in raised] == [28]


def edited_by_two(folder: Path, data: bytes, edits: dict) -> bytes:
    """The worksheet part rewritten through split_write, in a package of its own."""
    path = folder / "sheet.xlsx"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(SHEET, data)
        archive.writestr("other.xml", b"<other/>")
    with open(path, "rb") as stream:
        entry = next(e for e in zippkg.read_entries(stream)[0] if e.name == SHEET)
    target = io.BytesIO()
    with open(path, "rb") as source:
        zippkg.rewrite(source, target, {SHEET: split_write.transform(path, entry, edits, 6)}, 6)
    with pytest.raises(ChildProcessError):  # collected, or stopped and reaped
        os.waitpid(-1, os.WNOHANG)
    with zipfile.ZipFile(target) as archive:
        assert archive.testzip() is None
        assert archive.read("other.xml") == b"<other/>"
        return archive.read(SHEET)


@pytest.mark.parametrize("seed", range(30))
def test_random_sheets_edited_by_two_processes(tmp_path, children, parent_halves, seed):
    """The child's half, joined, gives what one edit gives on random sheets (rows with
    and without numbers, gaps, new rows, whitespace), and no child is left behind."""
    from test_sheetxml_random import random_case

    _, _, edits, data, _ = random_case(random.Random(seed))
    assert edited_by_two(tmp_path, data, edits) == b"".join(sheetxml.rewrite_sheet([data], edits))
    # An edit whose top row takes a neighbour's style adds columns: no child for it.
    assert len(children) == (0 if split_write._adds_columns(edits) else 1)
    assert parent_halves == []


def test_a_sheet_that_cannot_be_cut_is_edited_whole(tmp_path, children, parent_halves):
    """Rows without numbers cannot start a half: the first half is the whole part, and
    the child that found no cut either is stopped."""
    ns = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
    rows = "".join(f"<row><c><v>{n}</v></c><c><v>1</v></c></row>" for n in range(40))
    data = f'<worksheet xmlns="{ns}"><sheetData>{rows}</sheetData></worksheet>'.encode()
    edits = {row: {1: sheetxml.CellEdit(1, 2.5, None)} for row in (3, 30)}
    assert edited_by_two(tmp_path, data, edits) == b"".join(sheetxml.rewrite_sheet([data], edits))
    assert len(children) == 1 and parent_halves == []
