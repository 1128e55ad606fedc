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
RECALC_ALWAYS = """<?xml version="1.0" encoding="UTF-8"?>
<oor:items xmlns:oor="http://openoffice.org/2001/registry" xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
<item oor:path="/org.openoffice.Office.Calc/Formula/Load"><prop oor:name="OOXMLRecalcMode" oor:op="fuse"><value>0</value></prop></item>
</oor:items>
"""


def convert(book: Path, tmp_path: Path) -> dict[str, list[list[str]]]:
    """Every sheet of the workbook as LibreOffice computes it, by sheet name."""
    profile = tmp_path / "lo-profile"
    (profile / "user").mkdir(parents=True, exist_ok=True)
    (profile / "user" / "registrymodifications.xcu").write_text(RECALC_ALWAYS)
    out = tmp_path / "csv"
    done = subprocess.run(
        [SOFFICE, "--headless", f"-env:UserInstallation={profile.as_uri()}",
         "--convert-to", CSV_FILTER, "--outdir", str(out), str(book)],
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
