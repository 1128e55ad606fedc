"""Lossless write-back: a sync changes the computed cells and nothing else in the package."""

from __future__ import annotations

import re
import zipfile
from pathlib import Path
from xml.etree import ElementTree

import openpyxl
import pytest
import python_calamine
from click.testing import CliRunner
from lxml import etree
from workbooks import AS_OF, EXPECTED_STATUS, FEATURES, build

from milestone_sheets.cli import main
from milestone_sheets.domain.fields import MILESTONES
from milestone_sheets.domain.grid import column_index

pytestmark = pytest.mark.filterwarnings("ignore:.*extension is not supported:UserWarning")
VBA = Path(__file__).parent / "data" / "vbaProject.bin"
COMPUTED = list(MILESTONES.computed)
NS = {"m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main"}


def styles_only_gained(before: bytes, after: bytes) -> None:
    """The styles after a sync are the styles before, with cell formats and number
    formats appended: no existing one changed, nothing else touched."""
    old, new = ElementTree.fromstring(before), ElementTree.fromstring(after)
    canon = ElementTree.tostring
    old_parts = {child.tag: child for child in old}
    new_parts = {child.tag: child for child in new}
    assert set(old_parts) <= set(new_parts)
    for tag, element in new_parts.items():
        kept = old_parts.get(tag)
        if tag.endswith(("}cellXfs", "}numFmts")):
            appended = [canon(e) for e in element]
            original = [canon(e) for e in kept] if kept is not None else []
            assert appended[: len(original)] == original, f"{tag}: an existing entry changed"
            assert element.get("count") == str(len(appended))
        else:
            assert kept is not None and canon(element) == canon(kept), f"{tag} changed"


def parts(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def computed_columns(path: Path) -> tuple[int, list[int]]:
    """(header row index, 0-based computed columns) as the synced file has them."""
    ws = openpyxl.load_workbook(path, read_only=True)["Milestones"]
    for r, row in enumerate(ws.iter_rows(max_row=10, values_only=True)):
        if "Status" in row:
            return r, [row.index(name) for name in COMPUTED]
    raise AssertionError("no computed header")


def canonical_without(xml: bytes, columns: set[int]) -> bytes:
    """The worksheet's canonical XML without the computed cells, the dimension and spans."""
    root = etree.fromstring(xml)
    for cell in root.iterfind(".//m:sheetData/m:row/m:c", NS):
        letters = re.match(r"[A-Z]+", cell.get("r")).group()
        if column_index(letters) in columns:
            cell.getparent().remove(cell)
    for row in root.iterfind(".//m:sheetData/m:row", NS):
        row.attrib.pop("spans", None)
    for dimension in root.iterfind("m:dimension", NS):
        dimension.attrib.pop("ref", None)
    return etree.tostring(root, method="c14n")


def without_calc_flag(xml: bytes) -> bytes:
    root = etree.fromstring(xml)
    for calc in root.iterfind("m:calcPr", NS):
        calc.attrib.pop("fullCalcOnLoad", None)
    return etree.tostring(root, method="c14n")


CASES = [(feature, None) for feature in FEATURES] + [("formulas_and_totals", "xlsm")]


@pytest.mark.parametrize(
    ("feature", "kind"), CASES, ids=[f"{f}{'-' + k if k else ''}" for f, k in CASES]
)
def test_sync_changes_only_the_computed_cells(tmp_path, feature, kind):
    path = build(tmp_path / f"plan.{kind or 'xlsx'}", feature, VBA if kind else None)
    before = parts(path)
    result = CliRunner().invoke(main, ["sync", str(path), "--as-of", AS_OF])
    assert result.exit_code == 1, result.output  # M5's due date is a data problem
    bad_row = 7 if feature == "merged_title" else 6
    assert f"Milestones!G{bad_row}: Due 'next friday' is not a date" in result.output
    after = parts(path)
    assert sorted(after) == sorted(before)

    sheet = "xl/worksheets/sheet1.xml"
    header_row, columns = computed_columns(path)
    allowed = {sheet, "xl/workbook.xml", "xl/styles.xml"}
    if feature == "excel_table":
        allowed.add("xl/tables/table1.xml")
    for name in sorted(set(before) - allowed):
        assert after[name] == before[name], f"{name} changed"
    styles_only_gained(before["xl/styles.xml"], after["xl/styles.xml"])
    assert without_calc_flag(after["xl/workbook.xml"]) == without_calc_flag(
        before["xl/workbook.xml"]
    )
    assert b'fullCalcOnLoad="1"' in after["xl/workbook.xml"]
    assert canonical_without(after[sheet], set(columns)) == canonical_without(
        before[sheet], set(columns)
    )
    if kind == "xlsm":
        assert after["xl/vbaProject.bin"] == before["xl/vbaProject.bin"]

    # Both readers see the computed values.
    first = header_row + 1
    ws = openpyxl.load_workbook(path, keep_vba=bool(kind))["Milestones"]
    by_openpyxl = [
        [ws.cell(row=first + 1 + i, column=c + 1).value for c in columns] for i in range(6)
    ]
    grid = python_calamine.CalamineWorkbook.from_path(str(path)).get_sheet_by_name("Milestones")
    rows = grid.to_python(skip_empty_area=False)
    by_calamine = [
        [rows[first + i][c] if rows[first + i][c] != "" else None for c in columns]
        for i in range(6)
    ]
    assert [row[0] for row in by_openpyxl] == EXPECTED_STATUS
    assert by_openpyxl[0] == ["Done", -2, 0, -100, -10, 100, None]
    assert by_openpyxl[1] == ["Overdue", 5, 0, 500, 4, 100,
                              "due 2026-06-10, 5 days late; over budget by 500 (4%)"]  # fmt: skip
    invalid = ["Invalid", None, None, None, None, None, "Due 'next friday' is not a date"]
    assert by_openpyxl[4] == invalid
    assert by_calamine == by_openpyxl


def test_an_excel_table_grows_to_take_in_the_computed_columns(tmp_path):
    path = build(tmp_path / "plan.xlsx", "excel_table")
    CliRunner().invoke(main, ["sync", str(path), "--as-of", AS_OF])
    table = openpyxl.load_workbook(path)["Milestones"].tables["Plan"]
    assert table.ref == "A1:T7"
    assert [c.name for c in table.tableColumns][-len(COMPUTED) :] == COMPUTED
    assert [c.id for c in table.tableColumns] == list(range(1, 21))


def test_existing_cells_keep_their_style(tmp_path):
    path = build(tmp_path / "plan.xlsx", "merged_title")
    CliRunner().invoke(main, ["sync", str(path), "--as-of", AS_OF])
    ws = openpyxl.load_workbook(path)["Milestones"]
    # New header cells look like the last header cell before them.
    assert ws["N2"].font.b and ws["N2"].fill.fgColor.rgb == ws["M2"].fill.fgColor.rgb
    # Restyle a computed cell by hand, then sync a later day: the style stays.
    ws["N3"].font = openpyxl.styles.Font(italic=True)
    ws["N3"].value = "Overdue"  # a stale status, as an older sync left it
    wb = ws.parent
    wb.save(path)
    CliRunner().invoke(main, ["sync", str(path), "--as-of", AS_OF])
    again = openpyxl.load_workbook(path)["Milestones"]["N3"]
    assert again.value == "Done" and again.font.i


WEEK_LATER = "2026-06-22"


def computed_values(path: Path) -> list[list[object]]:
    header_row, columns = computed_columns(path)
    grid = python_calamine.CalamineWorkbook.from_path(str(path)).get_sheet_by_name("Milestones")
    rows = grid.to_python(skip_empty_area=False)[header_row:]
    return [[row[c] if c < len(row) else "" for c in columns] for row in rows]


@pytest.mark.parametrize("feature", list(FEATURES))
def test_a_weekly_sync_equals_a_first_sync_on_that_day(tmp_path, feature):
    """The weekly run replaces cells written a week before; its result must be what a
    first sync on the later day writes, and nothing else in the package may move."""
    weekly = build(tmp_path / "weekly.xlsx", feature)
    fresh = build(tmp_path / "fresh.xlsx", feature)
    CliRunner().invoke(main, ["sync", str(weekly), "--as-of", AS_OF])
    before = parts(weekly)
    result = CliRunner().invoke(main, ["sync", str(weekly), "--as-of", WEEK_LATER])
    assert result.exit_code == 1, result.output
    assert "Wrote " in result.output  # days late and expected progress moved on
    CliRunner().invoke(main, ["sync", str(fresh), "--as-of", WEEK_LATER])
    after = parts(weekly)
    sheet = "xl/worksheets/sheet1.xml"
    for name in sorted(set(before) - {sheet}):
        assert after[name] == before[name], f"{name} changed"
    _, columns = computed_columns(weekly)
    assert canonical_without(after[sheet], set(columns)) == canonical_without(
        before[sheet], set(columns)
    )
    assert computed_values(weekly) == computed_values(fresh)
