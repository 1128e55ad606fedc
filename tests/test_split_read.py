"""A large worksheet read in two halves gives exactly what one read of it gives.

The halves are forced on small sheets here (no minimum size), written by xlsxwriter with
random content, and by hand where a sheet has rows out of order, rows without numbers,
or a namespace prefix.
"""

from __future__ import annotations

import random
import tempfile
import zipfile
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime
from pathlib import Path

import pytest
import python_calamine
import xlsxwriter

from milestone_sheets import evaluate as ev
from milestone_sheets.sources import excel, split_read, zippkg

SHEET = "xl/worksheets/sheet1.xml"


def read_both(path: Path, title: str = "Milestones") -> tuple[list, list]:
    """(one read of the whole sheet, the read in halves)."""
    workbook = python_calamine.CalamineWorkbook.from_path(str(path))
    with open(path, "rb") as stream, ThreadPoolExecutor(max_workers=2) as pool:
        entries = {entry.name: entry for entry in zippkg.read_entries(stream)[0]}
        halves = split_read.submit(pool, lambda: workbook, path, stream, entries[SHEET], title, 0)()
    return split_read.read_whole(lambda: workbook, title), halves


@pytest.fixture
def parses(monkeypatch):
    """How many temporary halves calamine parsed."""
    calls = []
    real = split_read._read

    def counted(*args):
        calls.append(args)
        return real(*args)

    monkeypatch.setattr(split_read, "_read", counted)
    return calls


def random_workbook(path: Path, rng: random.Random) -> None:
    book = xlsxwriter.Workbook(str(path))
    sheet = book.add_worksheet("Milestones")
    book.add_worksheet("Other").write(0, 0, "beside")
    dates = book.add_format({"num_format": "yyyy-mm-dd"})
    rows = rng.randint(2, 120)
    # Columns that only the top or only the bottom of the sheet uses, and a blank band.
    top_cols, bottom_cols = rng.randint(1, 8), rng.randint(1, 8)
    blank_from = rng.randint(0, rows)
    blank_to = blank_from + rng.randint(0, 15)
    for row in range(rows):
        if blank_from <= row < blank_to:
            continue
        width = top_cols if row < rows // 2 else bottom_cols
        first_col = rng.choice([0, 0, 0, 1, 2])
        for col in range(first_col, width):
            kind = rng.random()
            if kind < 0.15:
                continue
            if kind < 0.4:
                sheet.write_string(row, col, rng.choice(["Ann", "On track", "x & y", "", " "]))
            elif kind < 0.6:
                sheet.write_number(row, col, rng.choice([0, 1, 2.5, -7, 1e9, 0.1]))
            elif kind < 0.7:
                sheet.write_datetime(row, col, datetime(2026, rng.randint(1, 12), 3), dates)
            elif kind < 0.8:
                sheet.write_boolean(row, col, rng.random() < 0.5)
            elif kind < 0.9:
                sheet.write_formula(row, col, "=1+1", None, rng.choice([2, "two", ""]))
            else:
                sheet.write_blank(row, col, None, dates)
    book.close()


@pytest.mark.parametrize("seed", range(40))
def test_halves_equal_one_read_on_random_sheets(tmp_path, seed, parses):
    path = tmp_path / "plan.xlsx"
    random_workbook(path, random.Random(seed))
    whole, halves = read_both(path)
    assert halves == whole
    assert len(parses) == 2  # these sheets do get cut


def test_a_macro_workbook_is_split_too(tmp_path, parses):
    """Each half keeps the package's name ending: calamine reads .xlsm as .xlsm."""
    path = tmp_path / "plan.xlsm"
    book = xlsxwriter.Workbook(str(path))
    sheet = book.add_worksheet("Milestones")
    for row in range(40):
        sheet.write_row(row, 0, [f"M{row}", row * 1.5, "On track" if row % 2 else None])
    book.add_vba_project(str(Path(__file__).parent / "data" / "vbaProject.bin"))
    book.close()
    whole, halves = read_both(path)
    assert halves == whole and whole[39] == ["M39", 58.5, "On track"]
    assert len(parses) == 2 and all(args[0].suffix == ".xlsm" for args in parses)


def with_sheet_xml(path: Path, xml: bytes) -> Path:
    """A copy of the workbook at `path` with its first worksheet's XML replaced."""
    target = path.with_name("hand.xlsx")
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(target, "w") as out:
        for info in source.infolist():
            out.writestr(info, xml if info.filename == SHEET else source.read(info))
    return target


def base_workbook(tmp_path: Path) -> Path:
    path = tmp_path / "base.xlsx"
    book = xlsxwriter.Workbook(str(path))
    book.add_worksheet("Milestones").write(0, 0, "x")
    book.close()
    return path


def sheet_xml(rows: list[str], prefix: str = "") -> bytes:
    p = f"{prefix}:" if prefix else ""
    ns = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
    declare = f'xmlns:{prefix}="{ns}"' if prefix else f'xmlns="{ns}"'
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><{p}worksheet {declare}>'
        f'<{p}dimension ref="A1:C9"/><{p}sheetData>{"".join(rows)}</{p}sheetData>'
        f"<{p}pageMargins/></{p}worksheet>"
    ).encode()


def numbered_rows(count: int, p: str = "") -> list[str]:
    return [
        f'<{p}row r="{n}"><{p}c r="A{n}"><{p}v>{n}</{p}v></{p}c>'
        f'<{p}c r="C{n}" t="inlineStr"><{p}is><{p}t>row {n}</{p}t></{p}is></{p}c></{p}row>'
        for n in range(1, count + 1)
    ]


def test_rows_without_numbers_are_not_cut_before(tmp_path, parses):
    """Rows after the middle carry no number: the first half takes them all."""
    rows = numbered_rows(4) + [f"<row><c><v>{n}</v></c><c><v>{n}</v></c></row>" for n in range(8)]
    path = with_sheet_xml(base_workbook(tmp_path), sheet_xml(rows))
    whole, halves = read_both(path)
    assert len(whole) == 12 and whole[11][:2] == [7, 7]
    assert halves == whole
    assert len(parses) == 1


def test_a_row_number_after_other_attributes_is_cut_before(tmp_path, parses):
    rows = [row.replace(f'<row r="{n}">', f'<row spans="1:3" r="{n}">') for n, row in
            enumerate(numbered_rows(9), start=1)]  # fmt: skip
    path = with_sheet_xml(base_workbook(tmp_path), sheet_xml(rows))
    whole, halves = read_both(path)
    assert whole[8] == [9, "", "row 9"]
    assert halves == whole
    assert len(parses) == 2


def test_rows_out_of_order_fall_back_to_one_read(tmp_path):
    rows = numbered_rows(9)
    rows = rows[4:] + rows[:4]  # rows 5-9 first, then 1-4
    path = with_sheet_xml(base_workbook(tmp_path), sheet_xml(rows))
    whole, halves = read_both(path)
    assert whole[0][0] == 1 and whole[8][0] == 9
    assert halves == whole


def test_prefixed_worksheet_xml(tmp_path, parses):
    path = with_sheet_xml(base_workbook(tmp_path), sheet_xml(numbered_rows(9, "x:"), "x"))
    whole, halves = read_both(path)
    assert whole[8] == [9, "", "row 9"]
    assert halves == whole
    assert len(parses) == 2


def test_temporary_copies_are_removed_and_a_missing_temp_folder_falls_back(tmp_path, monkeypatch):
    path = tmp_path / "plan.xlsx"
    random_workbook(path, random.Random(7))
    temp = tmp_path / "temp"
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    whole, halves = read_both(path)
    assert halves == whole
    assert list(temp.iterdir()) == []
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "missing"))
    whole, halves = read_both(path)
    assert halves == whole


def test_sync_of_a_split_sheet_computes_what_one_read_computes(tmp_path, monkeypatch, parses):
    from milestone_sheets.testing.generate import generate_plan

    path = tmp_path / "plan.xlsx"
    generate_plan(path, 3000)
    settings = ev.Settings()
    as_of = date(2026, 6, 15)
    whole = ev.evaluate(excel.ExcelSource(path).read(), settings, as_of)
    monkeypatch.setattr(split_read, "MIN_SPLIT_BYTES", 0)
    split = ev.evaluate(excel.ExcelSource(path).read(), settings, as_of)
    assert split.milestones.grid == whole.milestones.grid
    assert split.writes == whole.writes and len(split.writes) > 3000
    assert len(parses) == 2
