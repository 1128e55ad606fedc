"""Workbooks laid out as people lay them out, saved by LibreOffice: a sync writes only the
computed cells of the milestone table and never a cell of the user's."""

from __future__ import annotations

import re
import shutil
import subprocess
import zipfile
from datetime import date
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner
from openpyxl.worksheet.table import Table, TableStyleInfo

from milestone_sheets.cli import main

SOFFICE = shutil.which("soffice") or shutil.which("libreoffice")
AS_OF = "2026-06-15"
HEADER = ["ID", "Milestone", "Owner", "Due", "Budget", "Actual"]
MILESTONES = [
    ["M1", "Website", "Ana", date(2026, 6, 1), 1000, 1200],
    ["M2", "Pilot", "Ben", date(2026, 7, 1), 500, 100],
    ["M3", "Launch", "Ana", date(2026, 8, 1), 800, None],
    ["M4", "Hiring", "Cy", date(2026, 9, 1), 300, 50],
]


def notes_beside(ws) -> None:
    """A dropdown's list in the column just right of the table, with no header above."""
    for row in [HEADER, *MILESTONES]:
        ws.append(row)
    for r, value in enumerate(["Yes", "No", "Maybe"], start=2):
        ws.cell(r, 7, value)


def block_below(ws) -> None:
    """A notes line and a second table below a blank row, and a formula over them."""
    for row in [HEADER, *MILESTONES]:
        ws.append(row)
    ws.append([])
    ws.append(["Notes: budget approved by the board"])
    ws.append(["Risk", "Owner", "Due", "Budget"])
    ws.append(["Supplier late", "Ben", date(2026, 7, 15), 200])
    ws["J9"] = "=COUNTA(A9:I9)"


def merged_header(ws) -> None:
    """A header merged over three columns, with data under each of them."""
    ws.append([*HEADER[:4], "Costs", None, None])
    ws.merge_cells("E1:G1")
    for m in MILESTONES:
        ws.append([*m[:4], m[4], m[5], "note"])


def foreign_status(ws) -> None:
    """A Status column of the user's own, with values the tool never writes."""
    ws.append([*HEADER, "Status"])
    for m, stage in zip(MILESTONES, ["Complete", "In Progress", "New", "New"], strict=True):
        ws.append([*m, stage])


def merged_computed(ws) -> None:
    """Cells of an existing computed column merged over two rows."""
    ws.append([*HEADER, "Status"])
    for m in MILESTONES:
        ws.append([*m, None])
    ws.merge_cells("G3:G4")


LAYOUTS = {f.__name__: f for f in (notes_beside, block_below, merged_header, foreign_status,
                                    merged_computed)}  # fmt: skip


@pytest.fixture(scope="module")
def saved(tmp_path_factory) -> dict[str, Path]:
    """Each layout, written by openpyxl and saved again by LibreOffice (one soffice run)."""
    if SOFFICE is None:
        pytest.skip(
            "LibreOffice (soffice) is not installed: apt-get install libreoffice-calc-nogui"
        )
    folder = tmp_path_factory.mktemp("layouts")
    sources = []
    for name, layout in LAYOUTS.items():
        book = openpyxl.Workbook()
        layout(book.active)
        book.active.title = "Milestones"
        path = folder / "src" / f"{name}.xlsx"
        path.parent.mkdir(exist_ok=True)
        book.save(path)
        sources.append(str(path))
    profile = folder / "profile"
    out = folder / "saved"
    done = subprocess.run([SOFFICE, "--headless", f"-env:UserInstallation={profile.as_uri()}",
                           "--convert-to", "xlsx:Calc MS Excel 2007 XML", "--outdir", str(out),
                           *sources], capture_output=True, text=True, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr
    paths = {name: out / f"{name}.xlsx" for name in LAYOUTS}
    for path in paths.values():
        app = zipfile.ZipFile(path).read("docProps/app.xml")
        assert b"LibreOffice" in app, "the file was not saved by LibreOffice"
    return paths


def synced(saved, tmp_path, name):
    path = tmp_path / f"{name}.xlsx"
    shutil.copy(saved[name], path)
    before = openpyxl.load_workbook(path)["Milestones"]
    result = CliRunner().invoke(main, ["sync", str(path), "--as-of", AS_OF])
    after = openpyxl.load_workbook(path)["Milestones"]
    return result, before, after


def values(ws, cells: str):
    return [[c.value for c in row] for row in ws[cells]]


def header(ws) -> list:
    return [c.value for c in ws[1]]


def test_a_list_beside_the_table_is_not_taken_over(saved, tmp_path):
    result, before, after = synced(saved, tmp_path, "notes_beside")
    assert result.exit_code == 0, result.output
    assert values(after, "G2:G4") == values(before, "G2:G4") == [["Yes"], ["No"], ["Maybe"]]
    assert header(after)[7:9] == ["Status", "Days late"]  # placed after the list's column
    assert after["H2"].value == "Overdue"


def test_nothing_below_the_table_is_written(saved, tmp_path):
    result, before, after = synced(saved, tmp_path, "block_below")
    assert result.exit_code == 0, result.output
    status_col = header(after).index("Status") + 1
    assert [after.cell(r, status_col).value for r in range(2, 6)] == [
        "Overdue", "On track", "On track", "On track"]  # fmt: skip
    for row in range(6, 12):
        for col in range(1, after.max_column + 1):
            assert after.cell(row, col).value == before.cell(row, col).value, (row, col)


def test_a_merged_header_and_the_data_under_it_stay(saved, tmp_path):
    result, before, after = synced(saved, tmp_path, "merged_header")
    assert result.exit_code == 0, result.output
    assert values(after, "E2:G5") == values(before, "E2:G5")
    assert "E1:G1" in [str(r) for r in after.merged_cells.ranges]
    assert header(after)[7] == "Status"


def test_a_status_column_of_the_users_is_named_and_left(saved, tmp_path):
    result, before, after = synced(saved, tmp_path, "foreign_status")
    assert result.exit_code == 1
    assert "Milestones!G1: the column 'Status' holds values milestone-sheets never writes" in (
        result.output
    )
    assert "Rename that column" in result.output
    assert values(after, "G1:G5") == values(before, "G1:G5")
    assert "Status" not in header(after)[7:]  # no second Status column either
    assert header(after)[7] == "Days late" and after["H2"].value == 14


def test_merged_cells_in_a_computed_column_are_not_written(saved, tmp_path):
    result, _before, after = synced(saved, tmp_path, "merged_computed")
    assert result.exit_code == 1
    assert re.search(
        r"Milestones!G\d: the Status cell is inside the merged range G3:G4", result.output
    )
    assert after["G2"].value == "Overdue" and after["G5"].value == "On track"
    assert after["G3"].value is None and after["G4"].value is None


def test_a_query_table_keeps_its_columns(tmp_path):
    book = openpyxl.Workbook()
    ws = book.active
    ws.title = "Milestones"
    for row in [HEADER, *MILESTONES]:
        ws.append(row)
    ws.add_table(Table(displayName="Imported", ref="A1:F5", tableType="queryTable",
                       tableStyleInfo=TableStyleInfo(name="TableStyleLight1")))  # fmt: skip
    ws2 = book.create_sheet("Plain")
    path = tmp_path / "q.xlsx"
    book.save(path)
    del ws2
    result = CliRunner().invoke(main, ["sync", str(path), "--as-of", AS_OF])
    assert result.exit_code == 0, result.output
    with zipfile.ZipFile(path) as package:
        table = package.read("xl/tables/table1.xml")
    assert b'ref="A1:F5"' in table and b'count="6"' in table
    assert openpyxl.load_workbook(path)["Milestones"]["G1"].value == "Status"


# --- Text Excel cannot hold, hostile packages, Strict Open XML ----------------------------


def rezip(source: Path, target: Path, change=lambda name, data: data, extra=()) -> Path:
    """The same package with some parts changed (and extra (name, data) entries)."""
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as new:
        for info in old.infolist():
            new.writestr(info, change(info.filename, old.read(info.filename)))
        for name, data in extra:
            new.writestr(name, data)
    return target


def plain_plan(path: Path) -> Path:
    book = openpyxl.Workbook()
    ws = book.active
    ws.title = "Milestones"
    for row in [HEADER, *MILESTONES]:
        ws.append(row)
    book.save(path)
    return path


def test_control_characters_from_a_cell_are_escaped_as_excel_does(tmp_path):
    from workbooks import write_xlsx

    rows = [HEADER, ["M1", "Launch", "Ana", "next\x01friday", 10, 5]]
    path = write_xlsx(tmp_path / "c.xlsx", {"Milestones": rows})
    result = CliRunner().invoke(main, ["sync", str(path), "--as-of", AS_OF])
    assert result.exit_code == 1, result.output
    with zipfile.ZipFile(path) as package:
        sheet = package.read("xl/worksheets/sheet1.xml")
    assert b"next_x0001_friday" in sheet and b"\x01" not in sheet
    import python_calamine  # it reads _xHHHH_ back as Excel does

    rows = (
        python_calamine.CalamineWorkbook.from_path(str(path))
        .get_sheet_by_name("Milestones")
        .to_python()
    )
    assert rows[1][rows[0].index("Check")] == "Due 'next\x01friday' is not a date"


def test_two_parts_of_one_name_are_refused(tmp_path):
    path = plain_plan(tmp_path / "p.xlsx")
    with zipfile.ZipFile(path) as package:
        sheet = package.read("xl/worksheets/sheet1.xml")
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns of the duplicate name, and writes it
        twice = rezip(path, tmp_path / "twice.xlsx", extra=[("xl/worksheets/sheet1.xml", sheet)])
    result = CliRunner().invoke(main, ["sync", str(twice), "--as-of", AS_OF])
    assert result.exit_code == 3
    assert "two parts named xl/worksheets/sheet1.xml" in result.output


def test_a_part_that_inflates_a_thousandfold_is_refused(tmp_path):
    path = plain_plan(tmp_path / "p.xlsx")

    def bloat(name, data):  # 24 MB of spaces inside the sheet: valid XML, ~24 KB deflated
        return (
            data.replace(b"<sheetData>", b"<sheetData>" + b" " * (24 << 20))
            if name.endswith("sheet1.xml")
            else data
        )

    bomb = rezip(path, tmp_path / "bomb.xlsx", bloat)
    assert bomb.stat().st_size < 200_000
    result = CliRunner().invoke(main, ["status", str(bomb), "--as-of", AS_OF])
    assert result.exit_code == 3
    assert "would inflate to 25 MB" in result.output and "refused" in result.output


def test_a_row_number_of_twenty_digits_is_refused(tmp_path):
    path = plain_plan(tmp_path / "p.xlsx")
    broken = rezip(path, tmp_path / "rows.xlsx",
                   lambda name, data: data.replace(b'<row r="5"', b'<row r="12345678901234567890"')
                   .replace(b'r="A5"', b'r="A12345678901234567890"'))  # fmt: skip
    result = CliRunner().invoke(main, ["sync", str(broken), "--as-of", AS_OF])
    assert result.exit_code == 3
    assert "lies past the sheet's last cell" in result.output


STRICT = [
    (b"http://schemas.openxmlformats.org/spreadsheetml/2006/main",
     b"http://purl.oclc.org/ooxml/spreadsheetml/main"),
    (b"http://schemas.openxmlformats.org/officeDocument/2006/relationships",
     b"http://purl.oclc.org/ooxml/officeDocument/relationships"),
]  # fmt: skip


def test_a_strict_open_xml_workbook_is_read_and_written(tmp_path):
    import python_calamine

    def strict(name, data):
        for transitional, purl in STRICT:
            data = data.replace(transitional, purl)
        return data

    path = rezip(plain_plan(tmp_path / "p.xlsx"), tmp_path / "strict.xlsx", strict)
    result = CliRunner().invoke(main, ["sync", str(path), "--as-of", AS_OF])
    assert result.exit_code == 0, result.output
    rows = (
        python_calamine.CalamineWorkbook.from_path(str(path))
        .get_sheet_by_name("Milestones")
        .to_python()
    )
    assert rows[0][6] == "Status" and rows[1][6] == "Overdue"
    with zipfile.ZipFile(path) as package:
        assert b"purl.oclc.org/ooxml/spreadsheetml/main" in package.read("xl/worksheets/sheet1.xml")


def test_a_macro_sheet_with_an_empty_relationship_id_is_kept(tmp_path):
    import python_calamine

    def add_macro_sheet(name, data):
        if name != "xl/workbook.xml":
            return data
        return data.replace(b"</sheets>", b'<sheet xmlns:r="http://schemas.openxmlformats.org/'
                            b'officeDocument/2006/relationships" name="Macro1" sheetId="9" '
                            b'r:id=""/></sheets>')  # fmt: skip

    path = rezip(plain_plan(tmp_path / "p.xlsx"), tmp_path / "m.xlsx", add_macro_sheet)
    with pytest.raises(python_calamine.CalamineError):  # what a reader alone makes of it
        python_calamine.CalamineWorkbook.from_path(str(path))
    result = CliRunner().invoke(main, ["sync", str(path), "--as-of", AS_OF])
    assert result.exit_code == 0, result.output
    with zipfile.ZipFile(path) as package:
        assert b'name="Macro1" sheetId="9" r:id=""' in package.read("xl/workbook.xml")
        assert b"Overdue" in package.read("xl/worksheets/sheet1.xml")
