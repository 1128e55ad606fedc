"""A real spreadsheet application opens synced workbooks: LibreOffice, headless.

LibreOffice ignores the recalculate-on-open flag unless its profile says to always
recalculate (OOXMLRecalcMode 0), so each test runs it with a fresh profile that does.
"""

from __future__ import annotations

import csv
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner
from workbooks import AS_OF, EXPECTED_STATUS, build

from milestone_sheets.cli import main

SOFFICE = shutil.which("soffice") or shutil.which("libreoffice")
pytestmark = pytest.mark.skipif(
    SOFFICE is None,
    reason="LibreOffice (soffice) is not installed: apt-get install libreoffice-calc-nogui",
)
CSV_FILTER = "csv:Text - txt - csv (StarCalc):44,34,76,1,,0,false,true,false,false,false,-1"
CSV_SHOWN = "csv:Text - txt - csv (StarCalc):44,34,76,1,,0,false,true,true,false,false,-1"
RECALC_ALWAYS = """<?xml version="1.0" encoding="UTF-8"?>
<oor:items xmlns:oor="http://openoffice.org/2001/registry" xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
<item oor:path="/org.openoffice.Office.Calc/Formula/Load"><prop oor:name="OOXMLRecalcMode" oor:op="fuse"><value>0</value></prop></item>
</oor:items>
"""


def convert(book: Path, tmp_path: Path, shown: bool = False) -> dict[str, list[list[str]]]:
    """Every sheet of the workbook as LibreOffice computes it, by sheet name; `shown`:
    each cell as LibreOffice displays it (its number format applied)."""
    profile = tmp_path / "lo-profile"
    (profile / "user").mkdir(parents=True, exist_ok=True)
    (profile / "user" / "registrymodifications.xcu").write_text(RECALC_ALWAYS)
    out = tmp_path / "csv"
    done = subprocess.run(
        [SOFFICE, "--headless", f"-env:UserInstallation={profile.as_uri()}",
         "--convert-to", CSV_SHOWN if shown else CSV_FILTER, "--outdir", str(out), str(book)],
        capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    sheets = {}
    for path in out.glob(f"{book.stem}-*.csv"):
        with path.open(encoding="utf-8", newline="") as stream:
            sheets[path.stem[len(book.stem) + 1 :]] = list(csv.reader(stream))
    assert sheets, f"LibreOffice wrote no CSV: {done.stdout} {done.stderr}"
    return sheets


@pytest.mark.parametrize(("feature", "suffix"), [("formulas_and_totals", "xlsx"), ("excel_table", "xlsx"),
                                                  ("formulas_and_totals", "xlsm")])  # fmt: skip
def test_libreoffice_reads_the_computed_cells_and_recalculates_user_formulas(
    tmp_path, feature, suffix
):
    vba = Path(__file__).parent / "data" / "vbaProject.bin" if suffix == "xlsm" else None
    path = build(tmp_path / f"plan.{suffix}", feature, vba)
    result = CliRunner().invoke(main, ["sync", str(path), "--as-of", AS_OF])
    assert result.exit_code == 1, result.output
    sheet = convert(path, tmp_path)["Milestones"]
    header = sheet[0]
    status, check = header.index("Status"), header.index("Check")
    assert [row[status] for row in sheet[1:7]] == EXPECTED_STATUS
    assert sheet[1][status : check + 1] == ["Done", "-2", "0", "-100", "-10", "100", ""]
    assert sheet[5][check] == "Due 'next friday' is not a date"
    if feature == "formulas_and_totals":
        # =COUNTIF(N:N,"Overdue") was saved as 0 before the sync; LibreOffice recomputes it.
        overdue = next(row for row in sheet if row[0] == "Overdue:")
        assert overdue[1] == "1"


def test_a_workbook_saved_by_libreoffice_syncs_too(tmp_path):
    """LibreOffice writes its own flavour of SpreadsheetML; the writer must take it as well."""
    import openpyxl

    source = build(tmp_path / "made.xlsx", "formulas_and_totals")
    profile = tmp_path / "lo-profile"
    (profile / "user").mkdir(parents=True)
    (profile / "user" / "registrymodifications.xcu").write_text(RECALC_ALWAYS)
    out = tmp_path / "saved"
    done = subprocess.run(
        [SOFFICE, "--headless", f"-env:UserInstallation={profile.as_uri()}", "--convert-to", "xlsx",
         "--outdir", str(out), str(source)],
        capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    path = out / "made.xlsx"
    result = CliRunner().invoke(main, ["sync", str(path), "--as-of", AS_OF])
    assert result.exit_code == 1, result.output
    ws = openpyxl.load_workbook(path)["Milestones"]
    header = [c.value for c in ws[1]]
    statuses = [ws.cell(row=r, column=header.index("Status") + 1).value for r in range(2, 8)]
    assert statuses == EXPECTED_STATUS
    sheet = convert(path, tmp_path / "again")["Milestones"]
    assert [row[header.index("Status")] for row in sheet[1:7]] == EXPECTED_STATUS


def test_computed_cells_show_in_their_number_formats(tmp_path):
    """Percent columns read 46.7%, days are whole numbers and the variance takes the
    Budget cell's own format, as LibreOffice displays them; the existing styles stay."""
    import datetime

    import openpyxl
    import xlsxwriter

    path = tmp_path / "plan.xlsx"
    book = xlsxwriter.Workbook(str(path))
    sheet = book.add_worksheet("Milestones")
    money = book.add_format({"num_format": "#,##0.00"})
    day = book.add_format({"num_format": "yyyy-mm-dd"})
    for col, name in enumerate(["ID", "Milestone", "Owner", "Start", "Due", "Budget", "Actual",
                                "Progress"]):  # fmt: skip
        sheet.write(0, col, name)
    sheet.write_row(1, 0, ["M1", "Launch", "Ana"])
    sheet.write_datetime(1, 3, datetime.datetime(2026, 5, 1), day)
    sheet.write_datetime(1, 4, datetime.datetime(2026, 6, 10), day)
    sheet.write(1, 5, 1000, money)
    sheet.write(1, 6, 1200.5, money)
    sheet.write(1, 7, 0.5)
    book.close()
    result = CliRunner().invoke(main, ["sync", str(path), "--as-of", AS_OF])
    assert result.exit_code == 0, result.output
    cells = openpyxl.load_workbook(path)["Milestones"]
    header = [c.value for c in cells[1]]
    formats = {name: cells.cell(2, header.index(name) + 1).number_format
               for name in ("Days late", "Slip (days)", "Budget variance", "Budget variance %",
                            "Expected progress %")}  # fmt: skip
    assert formats == {"Days late": "0", "Slip (days)": "0", "Budget variance": "#,##0.00",
                       "Budget variance %": '0.0"%"', "Expected progress %": '0.0"%"'}  # fmt: skip
    shown = convert(path, tmp_path, shown=True)["Milestones"]
    row = dict(zip(shown[0], shown[1], strict=False))
    assert (row["Days late"], row["Budget variance"], row["Budget variance %"]) == (
        "5", "200.50", "20.1%")  # fmt: skip
    assert row["Expected progress %"] == "100.0%" and row["Budget"] == "1,000.00"
    # Synced again with new values, the cells reuse the formats added the first time.
    import zipfile

    styles = zipfile.ZipFile(path).read("xl/styles.xml")
    again = CliRunner().invoke(main, ["sync", str(path), "--as-of", "2026-06-20"])
    assert "Wrote" in again.output
    assert zipfile.ZipFile(path).read("xl/styles.xml") == styles
