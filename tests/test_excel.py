"""The Excel source end to end, on workbooks written by xlsxwriter."""

from __future__ import annotations

import json
import re
import zipfile
from datetime import date
from pathlib import Path

import openpyxl
import pytest
import python_calamine
from conftest import digest
from workbooks import Formula, write_xlsx

from milestone_sheets.app import sync
from milestone_sheets.cli import main
from milestone_sheets.config import parse_config
from milestone_sheets.domain.evaluate import Settings
from milestone_sheets.domain.fields import MILESTONES
from milestone_sheets.errors import SheetChangedError, SourceError
from milestone_sheets.sources.excel import ExcelSource

AS_OF = "2026-06-15"
COMPUTED = list(MILESTONES.computed)


def read_part(path: Path, part: str) -> bytes:
    with zipfile.ZipFile(path) as archive:
        return archive.read(part)


def sheet_cells(path: Path, part: str = "xl/worksheets/sheet1.xml") -> dict[str, bytes]:
    """Each cell's raw XML by reference."""
    xml = read_part(path, part)
    return {
        m.group(1).decode(): m.group(0)
        for m in re.finditer(rb'<c r="([A-Z]+\d+)"[^>]*?(?:/>|>.*?</c>)', xml, re.S)
    }


@pytest.fixture
def plan(tmp_path, plan_rows):
    return write_xlsx(
        tmp_path / "plan.xlsx", {"Milestones": plan_rows, "Other": [["keep", 1]]}, title_rows=1
    )


def run_sync(runner, path, *args):
    return runner.invoke(main, ["sync", str(path), "--as-of", AS_OF, *args])


def test_sync_computes_valid_rows_marks_bad_ones_and_touches_nothing_else(runner, plan):
    before_cells = sheet_cells(plan)
    before_other = read_part(plan, "xl/worksheets/sheet2.xml")
    result = run_sync(runner, plan)
    assert result.exit_code == 1, result.output
    assert "Milestones!G7: Due 'next friday' is not a date" in result.output
    assert "Milestones!C8: Owner is missing" in result.output

    wb = openpyxl.load_workbook(plan)
    ws = wb["Milestones"]
    header = [c.value for c in ws[2]]
    assert header[13:] == COMPUTED  # added after the last used column (M: Cost per day)
    rows = {r: [c.value for c in ws[r]][13:] for r in range(3, 9)}
    assert rows[3] == ["Done", -2, 0, -100, -10, 100, None]
    assert rows[4] == ["Overdue", 5, 0, 500, 4, 100,  # $12,500 budget, 13k spent
                       "due 2026-06-10, 5 days late; over budget by 500 (4%)"]  # fmt: skip
    assert rows[5] == ["On track", None, 0, -4000, -80, 46.7, None]
    assert rows[6] == ["Not started", None, 0, None, None, 0, None]
    assert rows[7] == ["Invalid", None, None, None, None, None, "Due 'next friday' is not a date"]
    assert rows[8] == ["Invalid", None, None, None, None, None,
                       "Owner is missing; Email 'not an email' is not an email address; "
                       "Budget 'lots' is not an amount; Progress 150 is outside 0..100%"]  # fmt: skip

    # Every cell outside the computed columns is byte for byte what it was.
    after_cells = sheet_cells(plan)
    computed_cols = {"N", "O", "P", "Q", "R", "S", "T"}
    untouched = {
        ref: xml
        for ref, xml in after_cells.items()
        if re.match(r"[A-Z]+", ref).group() not in computed_cols
    }
    assert untouched == before_cells
    assert read_part(plan, "xl/worksheets/sheet2.xml") == before_other
    # The user's formulas keep their saved results for readers of cached values.
    cached = (
        python_calamine.CalamineWorkbook.from_path(str(plan))
        .get_sheet_by_name("Milestones")
        .to_python()
    )
    assert cached[2][12] == 30 and cached[3][12] == 433.33
    assert cached[2][13:] == ["Done", -2, 0, -100, -10, 100, ""]


def test_second_sync_with_the_same_date_changes_nothing_and_rewrites_no_file(runner, plan):
    run_sync(runner, plan)
    before = (digest(plan), plan.stat().st_mtime_ns)
    result = run_sync(runner, plan)
    assert result.exit_code == 1
    assert "Up to date: nothing to write" in result.output
    assert (digest(plan), plan.stat().st_mtime_ns) == before


def test_status_json_agrees_with_what_sync_wrote(runner, plan):
    run_sync(runner, plan)
    result = runner.invoke(main, ["status", str(plan), "--as-of", AS_OF, "--format", "json"])
    assert result.exit_code == 1
    rows = json.loads(result.stdout)
    assert [r["row"] for r in rows] == [3, 4, 5, 6, 7, 8]
    assert set(rows[0]) == {"id", "row", "name", "owner", "email", "due", "status", "days_late",
                            "slip_days", "budget_variance", "budget_variance_pct", "expected_progress_pct", "check"}  # fmt: skip
    ws = openpyxl.load_workbook(plan)["Milestones"]
    keys = [
        "status",
        "days_late",
        "slip_days",
        "budget_variance",
        "budget_variance_pct",
        "expected_progress_pct",
        "check",
    ]
    for row in rows:
        written = [c.value for c in ws[row["row"]]][13:]
        assert [row[k] for k in keys] == written
    assert rows[0]["due"] == "2026-06-01" and rows[4]["due"] is None
    assert rows[5]["owner"] is None and rows[5]["email"] is None


def test_dry_run_prints_the_changes_and_writes_nothing(runner, plan):
    before = digest(plan)
    result = run_sync(runner, plan, "--dry-run")
    assert "Status: (blank) -> Done (Milestones!N3)" in result.output
    assert "Milestones!N2: new column 'Status'" in result.output
    assert "nothing written" in result.output
    assert digest(plan) == before


@pytest.mark.parametrize("lock_name", ["~$plan.xlsx", ".~lock.plan.xlsx#"])
def test_refuses_to_write_while_the_workbook_is_open(runner, plan, lock_name):
    (plan.parent / lock_name).write_text("someone")
    before = digest(plan)
    result = run_sync(runner, plan)
    assert result.exit_code == 3
    assert "open in Excel or LibreOffice" in result.output and lock_name in result.output
    assert digest(plan) == before


def test_formula_in_a_computed_cell_is_not_overwritten(runner, tmp_path):
    rows = [["Name", "Owner", "Due", "Status"],
            ["A", "Ana", date(2026, 6, 1), Formula('=IF(C2<TODAY(),"Late","")', "Late")],
            ["B", "Ben", date(2026, 7, 1), None]]  # fmt: skip
    path = write_xlsx(tmp_path / "f.xlsx", {"Milestones": rows})
    before = sheet_cells(path)["D2"]
    result = run_sync(runner, path)
    assert result.exit_code == 1
    assert "Milestones!D2: the Status cell holds a formula" in result.output
    after = sheet_cells(path)
    assert after["D2"] == before
    assert b"On track" in after["D3"]  # the other rows are still written


def test_formula_without_saved_value_in_a_field_is_a_data_problem(runner, tmp_path):
    rows = [["Name", "Owner", "Due", "Budget"],
            ["A", "Ana", date(2026, 7, 1), Formula("=100*2", None)],
            ["B", "Ben", date(2026, 7, 1), Formula("=100*3", 300)]]  # fmt: skip
    path = write_xlsx(tmp_path / "f.xlsx", {"Milestones": rows})
    result = run_sync(runner, path)
    assert result.exit_code == 1
    assert "Milestones!D2: Budget is a formula with no saved value" in result.output
    ws = openpyxl.load_workbook(path)["Milestones"]
    assert [ws["E2"].value, ws["E3"].value] == ["Invalid", "On track"]


def test_missing_file_is_exit_3(runner, tmp_path):
    result = runner.invoke(main, ["sync", str(tmp_path / "nope.xlsx")])
    assert result.exit_code == 3
    assert "file not found" in result.output


def test_not_a_workbook_is_exit_3(runner, tmp_path):
    bad = tmp_path / "bad.xlsx"
    bad.write_text("not a zip")
    result = runner.invoke(main, ["validate", str(bad)])
    assert result.exit_code == 3
    assert "not a readable Excel workbook" in result.output


def test_no_header_is_a_clear_error(runner, tmp_path):
    path = write_xlsx(tmp_path / "x.xlsx", {"Milestones": [["a", "b"], [1, 2]]})
    result = runner.invoke(main, ["validate", str(path)])
    assert result.exit_code == 2
    assert "Milestones: no header row found in the first 10 rows" in result.output


def test_milestones_sheet_found_by_its_header_when_not_named(tmp_path, plan_rows):
    path = write_xlsx(tmp_path / "x.xlsx", {"Intro": [["Read me"]], "Plan 2026": plan_rows})
    config = parse_config({}, tmp_path)
    result = sync(ExcelSource(path), date(2026, 6, 15), Settings(), dry_run=True)
    assert result.evaluation.milestones.sheet == "Plan 2026"
    assert config.source.worksheet is None


def _touching_writer(monkeypatch, times):
    """Someone saves the workbook (same bytes, a new mtime) while we write, `times` times."""
    import os

    from milestone_sheets.sources.excel import source as excel_source
    from milestone_sheets.sources.excel import workbook

    left = [times]
    real = workbook.write_workbook

    def write_workbook(path, package_map, edits, target):
        real(path, package_map, edits, target)
        if left[0]:
            left[0] -= 1
            stat = path.stat()
            os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))

    monkeypatch.setattr(excel_source.workbook, "write_workbook", write_workbook)


def test_a_change_on_disk_during_the_sync_is_detected(tmp_path, plan_rows, monkeypatch):
    path = write_xlsx(tmp_path / "plan.xlsx", {"Milestones": plan_rows})
    before = digest(path)
    with monkeypatch.context() as patch:
        _touching_writer(patch, 5)
        with pytest.raises(SheetChangedError, match="gave up after 2 tries. Nothing was written"):
            sync(ExcelSource(path), date(2026, 6, 15), Settings())
    assert digest(path) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plan.xlsx"]
    # Changed once: the sync reads again and succeeds.
    with monkeypatch.context() as patch:
        _touching_writer(patch, 1)
        result = sync(ExcelSource(path), date(2026, 6, 15), Settings())
    assert result.written and result.attempts == 2
    assert openpyxl.load_workbook(path)["Milestones"]["N2"].value == "Done"


def test_backup_keeps_the_previous_file(runner, plan):
    before = digest(plan)
    result = run_sync(runner, plan, "--backup")
    assert result.exit_code == 1
    assert digest(plan.with_name("plan.bak.xlsx")) == before
    assert digest(plan) != before


def test_write_failure_leaves_the_workbook_and_no_temp_file(tmp_path, plan_rows, monkeypatch):
    from milestone_sheets.sources.excel import source as excel_source

    path = write_xlsx(tmp_path / "plan.xlsx", {"Milestones": plan_rows})
    before = digest(path)

    def failing(path, package_map, edits, target):
        target.write(b"half a file")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(excel_source.workbook, "write_workbook", failing)
    with pytest.raises(SourceError, match="No space left on device. Nothing was written"):
        sync(ExcelSource(path), date(2026, 6, 15), Settings())
    assert digest(path) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plan.xlsx"]


def test_xlsm_keeps_its_vba_project(runner, tmp_path, plan_rows):
    import xlsxwriter

    vba = Path(__file__).parent / "data" / "vbaProject.bin"
    path = tmp_path / "plan.xlsm"
    book = xlsxwriter.Workbook(str(path))
    sheet = book.add_worksheet("Milestones")
    for r, row in enumerate(plan_rows[:4]):
        for c, value in enumerate(row):
            if isinstance(value, date):
                sheet.write_datetime(
                    r, c, __import__("datetime").datetime(value.year, value.month, value.day)
                )
            elif isinstance(value, Formula):
                sheet.write_formula(r, c, value.text, None, value.cached)
            elif value is not None:
                sheet.write(r, c, value)
    book.add_vba_project(str(vba))
    book.close()
    before = read_part(path, "xl/vbaProject.bin")
    result = run_sync(runner, path)
    assert result.exit_code == 0, result.output
    assert read_part(path, "xl/vbaProject.bin") == before
    assert openpyxl.load_workbook(path, keep_vba=True)["Milestones"]["N2"].value == "Done"


GOOD = [
    "M1",
    "Good",
    "Ana",
    "ana@example.com",
    date(2026, 6, 1),
    date(2026, 6, 29),
    None,
    100,
    50,
    0.5,
]
BAD_HEADER = [
    "ID",
    "Name",
    "Owner",
    "Email",
    "Start",
    "Due",
    "Completed",
    "Budget",
    "Actual",
    "Progress",
    "Notes",
]


@pytest.mark.parametrize(
    ("column", "value", "cell", "message"),
    [
        (5, "next friday", "F3", "Due 'next friday' is not a date"),
        (5, None, "F3", "Due is missing"),
        (2, None, "C3", "Owner is missing"),
        (1, "-", "B3", "Name is missing"),
        (3, "ben at example", "D3", "Email 'ben at example' is not an email address"),
        (
            3,
            "ben@example.com\nBcc: x@example.com",
            "D3",
            "Email 'ben@example.com Bcc: x@example.com' is not an email address",
        ),
        (7, "lots", "H3", "Budget 'lots' is not an amount"),
        (7, -500, "H3", "Budget -500 is negative"),
        (8, "(250)", "I3", "Actual (250) is negative"),
        (9, 150, "J3", "Progress 150 is outside 0..100%"),
        (4, date(2026, 7, 1), "E3", "Start 2026-07-01 is after Due 2026-06-20"),
        (6, date(2026, 7, 1), "G3", "Completed 2026-07-01 is in the future"),
        (0, "m1", "A3", "Duplicate ID M1 (rows 2, 3)"),
        (7, Formula("=1/0*0", None), "H3", "Budget is a formula with no saved value"),
    ],
)
def test_each_bad_input_names_its_cell_and_loses_nothing(
    runner, tmp_path, column, value, cell, message
):
    bad = [
        "M2",
        "Bad",
        "Ben",
        "ben@example.com",
        date(2026, 6, 1),
        date(2026, 6, 20),
        None,
        100,
        50,
        0.5,
        "keep me",
    ]
    bad[column] = value
    path = write_xlsx(tmp_path / "p.xlsx", {"Milestones": [BAD_HEADER, GOOD + ["note"], bad]})
    before = sheet_cells(path)
    result = run_sync(runner, path)
    assert result.exit_code == 1
    assert f"Milestones!{cell}: {message}" in result.output
    ws = openpyxl.load_workbook(path)["Milestones"]
    status_col = ws.max_column - len(COMPUTED) + 1
    statuses = [ws.cell(row=r, column=status_col).value for r in (2, 3)]
    check = ws.cell(row=3, column=ws.max_column).value
    if message.startswith("Duplicate"):
        assert statuses == ["Invalid", "Invalid"]
    else:
        assert statuses == ["On track", "Invalid"]
    assert message in check
    after = sheet_cells(path)
    assert {ref: xml for ref, xml in after.items() if ref in before} == before
