"""The formula scan in a child process finds what the scan in-process finds.

The child is forced on small sheets here (no minimum size). Each test checks that the
answer really came from a child, or, where the child is made to fail, that the parent's
own scan stood in for it.
"""

from __future__ import annotations

import gc
import os
import random
import re
import threading
import time
import zipfile
from datetime import date
from pathlib import Path

import pytest
from conftest import Formula, write_xlsx
from test_sheetxml_random import random_sheet

from milestone_sheets import evaluate as ev
from milestone_sheets.errors import SourceError
from milestone_sheets.sources import background_scan, excel, sheetxml, zippkg
from milestone_sheets.testing.generate import generate_plan

SHEET = "xl/worksheets/sheet1.xml"


def sheet_entry(path: Path) -> zippkg.Entry:
    with open(path, "rb") as stream:
        return next(e for e in zippkg.read_entries(stream)[0] if e.name == SHEET)


def package_of(tmp_path: Path, xml: str) -> Path:
    path = tmp_path / "sheet.xlsx"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(SHEET, xml)
    return path


@pytest.fixture
def forks(monkeypatch):
    """The pids of the children forked."""
    pids = []
    real = os.fork

    def spied() -> int:
        pid = real()
        if pid:
            pids.append(pid)
        return pid

    monkeypatch.setattr(os, "fork", spied)
    return pids


def no_fallback(monkeypatch) -> None:
    """From now on the parent cannot scan: an answer must come from the child."""

    def refused(path, entry):
        raise AssertionError("the parent scanned")

    monkeypatch.setattr(background_scan, "scan_now", refused)


@pytest.mark.parametrize("seed", range(25))
def test_the_child_finds_what_the_parent_finds(tmp_path, monkeypatch, forks, seed):
    xml, _, formulas = random_sheet(random.Random(seed))
    path = package_of(tmp_path, xml)
    entry = sheet_entry(path)
    expected = background_scan.scan_now(path, entry)
    assert expected.formula_cells == {(row - 1, col) for row, col in formulas}
    scan = background_scan.start(path, entry)
    no_fallback(monkeypatch)
    scan.go()
    assert scan.result() == expected
    assert scan.result() is scan.result()  # asked twice, collected once
    assert len(forks) == 1


def test_a_failed_child_leaves_the_scan_to_the_parent(tmp_path, monkeypatch, forks):
    xml, _, formulas = random_sheet(random.Random(3))
    path = package_of(tmp_path, xml)
    parent = os.getpid()
    real = sheetxml.scan_formulas

    def fails_in_the_child(chunks):
        if os.getpid() != parent:
            raise MemoryError("the child ran out")
        return real(chunks)

    monkeypatch.setattr(sheetxml, "scan_formulas", fails_in_the_child)
    scan = background_scan.start(path, sheet_entry(path))
    assert scan.result().formula_cells == {(row - 1, col) for row, col in formulas}
    assert len(forks) == 1


@pytest.mark.parametrize("told_to_go", [False, True])
def test_a_child_nobody_asks_is_stopped_and_reaped(tmp_path, forks, told_to_go):
    xml, _, _ = random_sheet(random.Random(5))
    path = package_of(tmp_path, xml)
    scan = background_scan.start(path, sheet_entry(path))
    if told_to_go:
        scan.go()
    del scan
    gc.collect()
    with pytest.raises(ChildProcessError):  # no such child left to wait for
        os.waitpid(forks[0], os.WNOHANG)


def test_the_child_scans_only_once_told_to_go(tmp_path, monkeypatch, forks):
    """It waits for the read to end, instead of taking CPU from it."""
    xml, _, formulas = random_sheet(random.Random(11))
    path = package_of(tmp_path, xml)
    started = tmp_path / "started"
    real = sheetxml.scan_formulas

    def marked(chunks):
        started.touch()
        return real(chunks)

    monkeypatch.setattr(sheetxml, "scan_formulas", marked)
    scan = background_scan.start(path, sheet_entry(path))
    time.sleep(0.3)
    assert not started.exists()
    scan.go()
    no_fallback(monkeypatch)
    assert scan.result().formula_cells == {(row - 1, col) for row, col in formulas}
    assert started.exists()


def test_no_child_is_forked_while_another_thread_runs():
    assert background_scan.can_fork() or not hasattr(os, "fork")
    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    try:
        assert not background_scan.can_fork()
    finally:
        stop.set()
        other.join()


@pytest.fixture
def scan_in_child(monkeypatch, forks):
    monkeypatch.setattr(excel, "BACKGROUND_SCAN_BYTES", 0)
    return forks


def test_a_sync_reads_and_writes_the_same_with_the_scan_in_a_child(tmp_path, monkeypatch, forks):
    path = tmp_path / "plan.xlsx"
    generate_plan(path, 2000)  # a formula on every row
    settings, as_of = ev.Settings(), date(2026, 6, 15)
    in_thread = ev.evaluate(excel.ExcelSource(path).read(), settings, as_of)
    assert forks == []
    monkeypatch.setattr(excel, "BACKGROUND_SCAN_BYTES", 0)
    in_child = ev.evaluate(excel.ExcelSource(path).read(), settings, as_of)
    assert len(forks) == 1
    grid, expected = in_child.milestones.grid, in_thread.milestones.grid
    assert grid.rows == expected.rows
    assert grid.formula_cells == expected.formula_cells and len(grid.formula_cells) == 2000
    assert grid.uncached_cells == expected.uncached_cells
    assert in_child.writes == in_thread.writes and in_child.problems == in_thread.problems


def formula_workbook(tmp_path: Path) -> Path:
    """D2: a formula without a saved value in a read column; E3: a formula in Status;
    D4: a formula with its saved value."""
    rows = [["Name", "Owner", "Due", "Budget", "Status"],
            ["A", "Ana", date(2026, 7, 1), Formula("=100*2", None), None],
            ["B", "Ben", date(2026, 6, 1), 300, Formula('=IF(C3<TODAY(),"Late","")', "Late")],
            ["C", "Cy", date(2026, 7, 1), Formula("=100*3", 300), None]]  # fmt: skip
    return write_xlsx(tmp_path / "f.xlsx", {"Milestones": rows})


def test_formula_problems_are_found_with_the_scan_in_a_child(tmp_path, scan_in_child):
    path = formula_workbook(tmp_path)
    evaluation = ev.evaluate(excel.ExcelSource(path).read(), ev.Settings(), date(2026, 6, 15))
    assert len(scan_in_child) == 1
    assert evaluation.problems == [
        "Milestones!D2: Budget is a formula with no saved value",
        "Milestones!E3: the Status cell holds a formula; it was not overwritten "
        "(clear it to let milestone-sheets fill it)",
    ]
    statuses = {w.row: w.value for w in evaluation.writes if w.col == 4}
    assert statuses == {1: "Invalid", 3: "On track"}  # row 3's formula is left alone


def test_a_scan_error_names_the_workbook(tmp_path, monkeypatch, scan_in_child):
    rows = [["Name", "Owner", "Due"], ["A", "Ana", date(2026, 7, 1)]]
    path = write_xlsx(tmp_path / "f.xlsx", {"Milestones": rows})

    def broken(chunks):
        raise sheetxml.SheetXmlError("no <sheetData> element")

    monkeypatch.setattr(sheetxml, "scan_formulas", broken)
    book = excel.ExcelSource(path).read()
    with pytest.raises(SourceError, match=r"f\.xlsx: cannot read the workbook: no <sheetData>"):
        ev.evaluate(book, ev.Settings(), date(2026, 6, 15))
    assert len(scan_in_child) == 1


def test_where_no_child_can_be_forked_the_parent_scans(tmp_path, monkeypatch):
    xml, _, formulas = random_sheet(random.Random(9))
    path = package_of(tmp_path, xml)

    def refused() -> int:
        raise BlockingIOError(11, "Resource temporarily unavailable")

    monkeypatch.setattr(os, "fork", refused)
    scan = background_scan.start(path, sheet_entry(path))
    assert scan.result().formula_cells == {(row - 1, col) for row, col in formulas}


def test_the_command_line_sync_with_the_scan_in_a_child(tmp_path, scan_in_child):
    """The command pauses the garbage collector and freezes the heap; the child's answer
    still reaches the problems report, and the formula cell is left as it was."""
    from click.testing import CliRunner

    from milestone_sheets.cli import main

    path = formula_workbook(tmp_path)
    with zipfile.ZipFile(path) as archive:
        formula_cell = re.search(rb'<c r="E3".*?</c>', archive.read(SHEET)).group()
    result = CliRunner().invoke(main, ["sync", str(path), "--as-of", "2026-06-15"])
    assert result.exit_code == 1, result.output
    assert "Milestones!D2: Budget is a formula with no saved value" in result.output
    assert "Milestones!E3: the Status cell holds a formula" in result.output
    assert len(scan_in_child) == 1
    with zipfile.ZipFile(path) as archive:
        sheet = archive.read(SHEET)
    assert formula_cell in sheet
    assert re.search(rb'<c r="E4"[^>]*t="inlineStr"><is><t>On track</t>', sheet)
