"""Google Sheets as a source: the real gspread client against the emulator on 127.0.0.1."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest
from workbooks import write_xlsx

from milestone_sheets.changes import CellWrite
from milestone_sheets.cli import main
from milestone_sheets.domain.fields import MILESTONES
from milestone_sheets.sources.google import group_ranges, parse_location

KEY = "1AbCdEfGhIjKlMnOp_qrs-TUV"
AS_OF = "2026-06-15"
HEADER = [
    "ID",
    "Milestone",
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
WIDENED = len(HEADER) + len(MILESTONES.computed)  # the grid's width once synced


def rows(count: int) -> list[list[object]]:
    out = [HEADER]
    for i in range(count):
        start = date(2026, 5, 1) + timedelta(days=i % 40)
        due = start + timedelta(days=20 + i % 30)
        out.append([f"M{i + 1}", f"Milestone {i + 1}", f"Owner {i % 7}", f"owner{i % 7}@example.com",
                    start, due, None, 1000 + i, 900 + 2 * i, (i % 10) / 10, f"note {i}"])  # fmt: skip
    return out


@pytest.fixture
def config(tmp_path, sheets, monkeypatch):
    path = tmp_path / "milestone-sheets.toml"
    path.write_text(f'[source]\nlocation = "gsheet:{KEY}"\n[google]\nendpoint = "{sheets.url}"\n')
    monkeypatch.chdir(tmp_path)
    return path


def sync(runner, *args):
    return runner.invoke(main, ["sync", "--as-of", AS_OF, *args])


@pytest.mark.parametrize(
    ("location", "key", "gid"),
    [
        (f"gsheet:{KEY}", KEY, None),
        (f"https://docs.google.com/spreadsheets/d/{KEY}/edit#gid=42", KEY, 42),
        (f"https://docs.google.com/spreadsheets/d/{KEY}/edit?usp=sharing#gid=0", KEY, 0),
        (f"https://docs.google.com/spreadsheets/d/{KEY}", KEY, None),
    ],
)
def test_source_forms(location, key, gid):
    ref = parse_location(location)
    assert (ref.key, ref.gid) == (key, gid)
    assert parse_location("plan.xlsx") is None


@pytest.mark.parametrize("count", [10, 1000, 10000])
def test_a_constant_number_of_requests(runner, sheets, config, count):
    sheets.add_spreadsheet(KEY, {"Milestones": rows(count)})
    result = sync(runner)
    assert result.exit_code == 0, result.output
    methods = [m for m, _ in sheets.requests]
    # metadata, read, re-read, the Budget cell's number format, the new columns' number
    # formats, write: the same six requests whatever the sheet's size.
    assert methods == ["GET", "GET", "GET", "GET", "POST", "POST"], sheets.requests
    assert "valueRenderOption=UNFORMATTED_VALUE" in sheets.requests[1][1]
    assert "valueRenderOption=FORMULA" in sheets.requests[2][1]
    assert "fields=sheets.data.rowData.values.userEnteredFormat" in sheets.requests[3][1]
    formats = sheets.spreadsheets[KEY].sheets[0].formats
    days, percent = len(HEADER) + 1, len(HEADER) + 4  # Days late, Budget variance %
    assert formats[(1, days)] == {"numberFormat": {"type": "NUMBER", "pattern": "0"}}
    assert formats[(count, percent)]["numberFormat"]["pattern"] == '0.0"%"'
    assert (1, len(HEADER)) not in formats  # Status is text: no format
    body = sheets.bodies[5]
    assert body["valueInputOption"] == "RAW"
    assert len(body["data"]) == 1  # every changed cell in one range
    written = sheets.values(KEY, "Milestones")
    assert written[0][11:] == list(MILESTONES.computed)
    assert all(row[11] for row in written[1:])
    # Nothing changed: no write at all.
    sheets.requests.clear()
    again = sync(runner)
    assert again.exit_code == 0 and "Up to date" in again.output
    assert [m for m, _ in sheets.requests] == ["GET", "GET"]


def test_same_results_as_an_excel_workbook(runner, sheets, config, tmp_path):
    plan = rows(40) + [["M99", "Bad", None, "x", None, "next friday", None, "lots", None, 150, ""]]
    sheets.add_spreadsheet(KEY, {"Milestones": plan})
    write_xlsx(tmp_path / "plan.xlsx", {"Milestones": plan})
    google = runner.invoke(main, ["status", "--as-of", AS_OF, "--format", "json"])
    excel = runner.invoke(
        main, ["status", str(tmp_path / "plan.xlsx"), "--as-of", AS_OF, "--format", "json"]
    )
    assert google.exit_code == excel.exit_code == 1
    assert json.loads(google.stdout) == json.loads(excel.stdout)
    validate = runner.invoke(main, ["validate", "--as-of", AS_OF])
    assert "Milestones!C42: Owner is missing" in validate.output
    sync(runner)
    runner.invoke(main, ["sync", str(tmp_path / "plan.xlsx"), "--as-of", AS_OF])
    import openpyxl

    ws = openpyxl.load_workbook(tmp_path / "plan.xlsx")["Milestones"]
    excel_cells = [[c.value for c in row][11:] for row in ws.iter_rows(min_row=1)]
    google_cells = [(row + [None] * 18)[11:18] for row in sheets.values(KEY, "Milestones")]
    normalise = lambda grid: [[None if v in ("", None) else v for v in row] for row in grid]  # noqa: E731
    assert normalise(google_cells) == normalise(excel_cells)


def test_a_grid_exactly_as_wide_as_its_header_is_widened_first(runner, sheets, config):
    sheets.add_spreadsheet(KEY, {"Milestones": rows(5)}, cols=len(HEADER))
    result = sync(runner)
    assert result.exit_code == 0, result.output
    assert [m for m, _ in sheets.requests] == ["GET", "GET", "GET", "GET", "POST", "POST"]
    assert sheets.bodies[4]["requests"][0] == {"updateSheetProperties": {
        "properties": {"sheetId": 0, "gridProperties": {"columnCount": WIDENED}},
        "fields": "gridProperties.columnCount"}}  # fmt: skip
    assert [next(iter(r)) for r in sheets.bodies[4]["requests"][1:]] == ["repeatCell"] * 4
    assert sheets.spreadsheets[KEY].sheets[0].cols == WIDENED


def test_a_widening_whose_answer_was_lost_is_retried_without_widening_twice(runner, sheets, config):
    """The server widened the grid and then failed to answer (503): the retry sets the
    same column count, so the grid is not widened twice."""
    from milestone_sheets.testing.sheets_emulator import ApiError

    sheets.add_spreadsheet(KEY, {"Milestones": rows(5)}, cols=len(HEADER))

    def lose_the_answer(emulator, method, path):
        if method == "POST" and path.endswith(":batchUpdate") and not emulator.faults:
            if emulator.count("POST") == 1:
                emulator.spreadsheets[KEY].sheets[0].cols = WIDENED  # applied...
                emulator.fail_next(ApiError(503, "UNAVAILABLE", "The service is unavailable."))

    sheets.hooks.append(lose_the_answer)
    result = sync(runner)
    assert result.exit_code == 0, result.output
    assert sheets.count("POST") == 3  # the widening twice, then the values
    assert sheets.spreadsheets[KEY].sheets[0].cols == WIDENED


@pytest.mark.parametrize("change", ["insert", "delete", "sort"])
def test_rows_moving_between_the_read_and_the_write(runner, sheets, config, change):
    sheets.add_spreadsheet(KEY, {"Milestones": rows(8)})
    done = []

    def meddle(emulator, method, path):
        if not done and "valueRenderOption=FORMULA" in path:
            done.append(path)
            if change == "insert":  # a person inserts a row and types a milestone into it
                emulator.insert_rows(KEY, "Milestones", 3)
                sheet = emulator.spreadsheets[KEY].sheet("Milestones")
                for col, value in enumerate(["M99", "Inserted", "Owner 1", "o@example.com",
                                             date(2026, 5, 2), date(2026, 7, 1)]):  # fmt: skip
                    sheet.cells[(3, col)] = emulator._seed(value)
            elif change == "delete":
                emulator.delete_rows(KEY, "Milestones", 2)
            else:
                emulator.sort_rows(KEY, "Milestones", 1, col=1, reverse=True)

    sheets.hooks.append(meddle)
    result = sync(runner)
    assert result.exit_code == 0, result.output
    assert done
    # Every status sits in its own milestone's row: compare with a fresh evaluation.
    status = json.loads(
        runner.invoke(main, ["status", "--as-of", AS_OF, "--format", "json"]).stdout
    )
    by_id = {row["id"]: row for row in status}
    for row in sheets.values(KEY, "Milestones")[1:]:
        if not row or not row[0]:
            continue
        assert row[11] == by_id[row[0]]["status"], row
        assert (row[12] if row[12] != "" else None) == by_id[row[0]]["days_late"], row


def test_a_sheet_that_keeps_changing_gives_up_with_nothing_written(runner, sheets, config):
    sheets.add_spreadsheet(KEY, {"Milestones": rows(8)})

    flips = []

    def meddle(emulator, method, path):
        if "valueRenderOption=FORMULA" in path:  # someone re-sorts it just before every write
            flips.append(path)
            emulator.sort_rows(KEY, "Milestones", 1, col=1, reverse=len(flips) % 2 == 1)

    sheets.hooks.append(meddle)
    before = sheets.values(KEY, "Milestones")
    result = sync(runner)
    assert result.exit_code == 4, result.output
    assert "rows moved while syncing" in result.output and "Nothing was written" in result.output
    assert sheets.count("POST") == 0 and len(flips) == 3  # three tries, bounded
    assert len(before[0]) == len(sheets.values(KEY, "Milestones")[0])  # no Status column added


def test_a_429_then_success(runner, sheets, config):
    from milestone_sheets.testing.sheets_emulator import quota_error

    sheets.add_spreadsheet(KEY, {"Milestones": rows(3)})
    sheets.fail_next(quota_error("Read"), times=2)
    sheets.fail_next(quota_error("Write"), when=lambda method, path: method == "POST")
    result = sync(runner)
    assert result.exit_code == 0, result.output
    assert sheets.values(KEY, "Milestones")[1][11]


def test_a_quota_that_stays_exhausted_is_exit_3(runner, sheets, config):
    from milestone_sheets.testing.sheets_emulator import quota_error

    sheets.add_spreadsheet(KEY, {"Milestones": rows(3)})
    sheets.fail_next(quota_error("Read"), times=50)
    result = sync(runner)
    assert result.exit_code == 3
    assert "quota exhausted" in result.output
    assert len(sheets.requests) == 6  # bounded: one try and five retries


def test_access_denied_names_the_service_account(runner, sheets, config, tmp_path):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()  # fmt: skip
    account = {"type": "service_account", "project_id": "plans", "private_key_id": "abc", "private_key": pem,
               "client_email": "milestones@plans.iam.gserviceaccount.com", "client_id": "1",
               "token_uri": f"{sheets.url}/token"}  # fmt: skip
    (tmp_path / "sa.json").write_text(json.dumps(account))
    config.write_text(config.read_text() + 'credentials = "sa.json"\n')
    sheets.add_spreadsheet(KEY, {"Milestones": rows(3)}, private=True)
    result = sync(runner)
    assert result.exit_code == 3
    assert "share it with milestones@plans.iam.gserviceaccount.com" in result.output
    assert "PRIVATE KEY" not in result.output and pem[40:80] not in result.output


def test_goals_and_tasks_worksheets(runner, sheets, config):
    milestones = [["ID", "Milestone", "Owner", "Goal", "Start", "Due", "Progress"],
                  ["M1", "Launch", "Ana", "G1", date(2026, 6, 1), date(2026, 6, 29), None]]  # fmt: skip
    goals = [["ID", "Goal", "Owner", "Start", "Due", "Target", "Actual"],
             ["G1", "Revenue", "Ana", date(2026, 6, 1), date(2026, 6, 29), 100000, 40000]]  # fmt: skip
    tasks = [["Milestone", "Task", "Owner", "Due", "Done"], ["M1", "Spec", "Ana", date(2026, 6, 5), "yes"],
             ["M1", "Build", "Ana", date(2026, 6, 20), "no"]]  # fmt: skip
    sheets.add_spreadsheet(KEY, {"Milestones": milestones, "Goals": goals, "Tasks": tasks})
    result = sync(runner)
    assert result.exit_code == 0, result.output
    # Still one read for all three tables and one write, and the new columns' number
    # formats (this plan has no Budget whose format the variance would take).
    assert len(sheets.requests) == 5
    assert sheets.values(KEY, "Goals")[1][7:12] == [
        "Behind",
        "0/1 done",
        50000,
        -10000,
        "2026-06-22",
    ]
    assert [row[5] for row in sheets.values(KEY, "Tasks")[1:]] == ["Done", "Open"]
    assert sheets.values(KEY, "Milestones")[1][7] == "On track"  # 1 of 2 tasks done = 50%


def test_user_formulas_stay_and_a_formula_in_a_computed_cell_is_reported(runner, sheets, config):
    plan = [HEADER + ["Cost per day", "Status"]] + [
        row + [("=I2/30", 30), ("=IF(F2<TODAY(),\"Overdue\",\"\")", "Overdue") if i == 0 else None]
        for i, row in enumerate(rows(3)[1:])
    ]  # fmt: skip
    sheets.add_spreadsheet(KEY, {"Milestones": plan})
    result = sync(runner)
    assert result.exit_code == 1, result.output
    assert "Milestones!M2: the computed cell holds a formula" in result.output
    sheet = sheets.spreadsheets[KEY].sheets[0]
    assert sheet.cells[(1, 12)].formula.startswith("=IF(")
    assert sheet.cells[(1, 11)].formula == "=I2/30"
    assert sheet.cells[(2, 12)].value  # the other rows are written


def test_text_from_the_sheet_never_becomes_a_formula(runner, sheets, config):
    plan = [HEADER, ["M1", '=IMPORTXML("http://x","//a")', "Ana", "ana@example.com", None,
                     '=HYPERLINK("http://x")', None, None, None, None, ""]]  # fmt: skip
    sheets.add_spreadsheet(KEY, {"Milestones": plan})
    cell = sheets.spreadsheets[KEY].sheets[0].cells[(1, 1)]
    cell.formula, cell.value = None, '=IMPORTXML("http://x","//a")'  # typed as text
    due = sheets.spreadsheets[KEY].sheets[0].cells[(1, 5)]
    due.formula, due.value = None, '=HYPERLINK("http://x")'
    result = sync(runner)
    assert result.exit_code == 1
    assert all(
        body["valueInputOption"] == "RAW" for body in sheets.bodies if body and "data" in body
    )
    sheet = sheets.spreadsheets[KEY].sheets[0]
    assert sheet.cells[(1, 1)].formula is None
    check = sheet.cells[(1, WIDENED - 1)]
    assert check.formula is None and check.value == "Due '=HYPERLINK(\"http://x\")' is not a date"


def test_the_gid_picks_the_worksheet(runner, sheets, config):
    spreadsheet = sheets.add_spreadsheet(
        KEY, {"Intro": [["Read me"]], "Team A": rows(2), "Team B": rows(3)}
    )
    gid = spreadsheet.sheets[2].sheet_id
    url = f"https://docs.google.com/spreadsheets/d/{KEY}/edit#gid={gid}"
    result = runner.invoke(main, ["status", url, "--as-of", AS_OF, "--format", "json"])
    assert len(json.loads(result.stdout)) == 3
    named = runner.invoke(
        main,
        ["status", f"gsheet:{KEY}", "--worksheet", "Team A", "--as-of", AS_OF, "--format", "json"],
    )
    assert len(json.loads(named.stdout)) == 2


def test_links_to_rows(runner, sheets, config, tmp_path):
    sheets.add_spreadsheet(KEY, {"Milestones": rows(2)})
    (tmp_path / "milestone-sheets.toml").write_text(
        (tmp_path / "milestone-sheets.toml").read_text() + '[review]\nfrom = "plan@example.com"\n'
    )
    runner.invoke(main, ["review", "--as-of", AS_OF])
    import email
    import email.policy

    raw = (tmp_path / "outbox" / "2026-06-review-owner0@example.com.eml").read_bytes()
    message = email.message_from_bytes(raw, policy=email.policy.default)
    text = message.get_body(("plain",)).get_content()
    assert f"https://docs.google.com/spreadsheets/d/{KEY}/edit#gid=0&range=A2" in text


def test_group_ranges_makes_few_rectangles():
    writes = [CellWrite("S", r, c, "x") for r in (1, 2, 3, 200) for c in (11, 12)] + [
        CellWrite("S", 2, 16, None)
    ]
    groups = group_ranges(writes)
    assert [(sheet, cells) for sheet, cells, _ in groups] == [("S", "L2:Q4"), ("S", "L201:M201")]
    assert groups[0][2][1] == ["x", "x", None, None, None, ""]  # null keeps a cell, "" empties it


def test_demo_on_the_emulator(runner):
    result = runner.invoke(main, ["demo", "--google"])
    assert result.exit_code == 0, result.output
    assert "12 milestones:" in result.output
    assert "in 6 API requests to a Sheets API emulator at http://127.0.0.1:" in result.output


def test_ragged_rows_and_an_empty_row_inside_the_data(runner, sheets, config):
    plan = rows(4)
    plan.insert(3, [])  # an entirely empty row between milestones
    plan[1] = plan[1][:6]  # trailing cells missing, as the API drops them
    sheets.add_spreadsheet(KEY, {"Milestones": plan})
    result = runner.invoke(main, ["status", "--as-of", AS_OF, "--format", "json"])
    assert result.exit_code == 0, result.output
    assert [row["row"] for row in json.loads(result.stdout)] == [2, 3, 5, 6]
    sync(runner)
    assert set(sheets.values(KEY, "Milestones")[3]) == {""}  # the empty row stays empty


def test_report_and_review_agree_with_excel(runner, sheets, config, tmp_path):
    plan = rows(30)
    sheets.add_spreadsheet(KEY, {"Milestones": plan})
    write_xlsx(tmp_path / "plan.xlsx", {"Milestones": plan})
    for source, name in (
        (f"gsheet:{KEY}", "google.html"),
        (str(tmp_path / "plan.xlsx"), "excel.html"),
    ):
        result = runner.invoke(
            main, ["report", source, "--as-of", AS_OF, "-o", str(tmp_path / name)]
        )
        assert result.exit_code == 0, result.output
    import re

    def body(name):
        page = (tmp_path / name).read_text()
        return re.sub(r"<title>.*?</title>|<h1>.*?</h1>", "", page)

    assert body("google.html") == body("excel.html")


def test_merged_cells_are_never_written_on_a_google_sheet_either(runner, sheets, config):
    plan = [HEADER + ["Status"]] + [row + [None] for row in rows(4)[1:]]
    sheets.add_spreadsheet(KEY, {"Milestones": plan})
    status_col = len(HEADER)
    sheets.merge(KEY, "Milestones", 2, status_col, 3, status_col)
    result = sync(runner)
    assert result.exit_code == 1, result.output
    assert "is inside the merged range L3:L4" in result.output
    values = sheets.values(KEY, "Milestones")
    assert values[1][status_col] and values[4][status_col]
    assert values[2][status_col] in (None, "") and values[3][status_col] in (None, "")


def test_the_variance_takes_the_budget_cells_number_format(runner, sheets, config):
    sheets.add_spreadsheet(KEY, {"Milestones": rows(3)})
    euros = {"numberFormat": {"type": "CURRENCY", "pattern": "#,##0.00 [$€]"}}
    sheet = sheets.spreadsheets[KEY].sheets[0]
    for row in (1, 2, 3):
        sheet.formats[(row, HEADER.index("Budget"))] = euros
    assert sync(runner).exit_code == 0
    variance = len(HEADER) + list(MILESTONES.computed).index("Budget variance")
    assert sheet.formats[(1, variance)] == euros and sheet.formats[(999, variance)] == euros
    # Synced again, nothing is formatted again: the formats go with a new column only.
    sheets.requests.clear()
    sync(runner, "--as-of", "2026-07-01")
    assert not [path for _, path in sheets.requests if path.endswith(f"{KEY}:batchUpdate")]
