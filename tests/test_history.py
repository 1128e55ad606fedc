"""Baselines and history, end to end: a plan synced on a series of as-of dates with edits
in between, on a workbook and on a Google Sheet, through the command line."""

from __future__ import annotations

import json
import re
from datetime import date
from email import message_from_bytes, policy
from pathlib import Path

import openpyxl
import pytest
from workbooks import write_xlsx

from milestone_sheets.cli import main
from milestone_sheets.domain.drift import (
    REPEATED_SLIPS,
    Baseline,
    Past,
    Seen,
    Snapshot,
    changes,
    plan_drift,
)
from milestone_sheets.domain.months import Month
from milestone_sheets.history import History

KEY = "1HistoryPlan_abcdefghij"
HEADER = ["ID", "Milestone", "Owner", "Email", "Due", "Completed", "Budget", "Notes"]
# No Start dates: a status moves only with the edits below, never with the calendar.
PLAN = [
    HEADER,
    ["M1", "Website", "Ana", "ana@example.com", date(2026, 6, 30), None, 10000, "keep"],
    ["M2", "Seed round", "Ben", "ben@example.com", date(2026, 5, 31), None, 5000, ""],
    ["M3", "Launch", "Chloé", "chloe@example.com", date(2026, 7, 31), None, 8000, ""],
    ["M4", "Hiring", "Dev", "dev@example.com", date(2026, 8, 31), None, 3000, ""],
    ["M5", "Office", "Dev", "dev@example.com", date(2026, 9, 30), None, 2000, ""],
]


class ExcelPlan:
    """The plan in a workbook, edited as a person would (openpyxl stands in for Excel)."""

    def __init__(self, folder: Path):
        self.path = write_xlsx(folder / "plan.xlsx", {"Milestones": PLAN})
        self.location = str(self.path)

    def _sheet(self):
        book = openpyxl.load_workbook(self.path)
        return book, book["Milestones"]

    def _row(self, sheet, milestone: str) -> int:
        return next(r for r in range(2, sheet.max_row + 1) if sheet.cell(r, 1).value == milestone)

    def edit(self, milestone: str, column: str, value) -> None:
        book, sheet = self._sheet()
        sheet.cell(self._row(sheet, milestone), HEADER.index(column) + 1).value = value
        book.save(self.path)

    def delete(self, milestone: str) -> None:
        book, sheet = self._sheet()
        sheet.delete_rows(self._row(sheet, milestone))
        book.save(self.path)

    def move_to_top(self, milestone: str) -> None:
        book, sheet = self._sheet()
        row = self._row(sheet, milestone)
        values = [c.value for c in sheet[row]]
        sheet.delete_rows(row)
        sheet.insert_rows(2)
        for col, value in enumerate(values, start=1):
            sheet.cell(2, col).value = value
        book.save(self.path)

    def column(self, name: str) -> dict[str, object]:
        _, sheet = self._sheet()
        header = [c.value for c in sheet[1]]
        col = header.index(name) + 1
        return {
            sheet.cell(r, 1).value: sheet.cell(r, col).value for r in range(2, sheet.max_row + 1)
        }


class GooglePlan:
    """The plan in a Google Sheet on the emulator, edited as a person would in the UI."""

    def __init__(self, emulator):
        self.emulator = emulator
        emulator.add_spreadsheet(KEY, {"Milestones": PLAN})
        self.location = f"gsheet:{KEY}"

    def _rows(self):
        return self.emulator.values(KEY, "Milestones")

    def _row(self, milestone: str) -> int:
        return next(r for r, row in enumerate(self._rows()) if row and row[0] == milestone)

    def edit(self, milestone: str, column: str, value) -> None:
        self.emulator.set_cell(KEY, "Milestones", self._row(milestone), HEADER.index(column), value)

    def delete(self, milestone: str) -> None:
        self.emulator.delete_rows(KEY, "Milestones", self._row(milestone))

    def move_to_top(self, milestone: str) -> None:
        row = self._row(milestone)
        values = self._rows()[row]
        self.emulator.delete_rows(KEY, "Milestones", row)
        self.emulator.insert_rows(KEY, "Milestones", 1)
        for col, value in enumerate(values):
            self.emulator.set_cell(KEY, "Milestones", 1, col, value if value != "" else None)

    def column(self, name: str) -> dict[str, object]:
        rows = self._rows()
        col = rows[0].index(name)
        return {row[0]: (row[col] if col < len(row) else None) for row in rows[1:] if row}


@pytest.fixture(params=["excel", "google"])
def plan(request, tmp_path, monkeypatch):
    if request.param == "excel":
        made = ExcelPlan(tmp_path)
        extra = ""
    else:
        emulator = request.getfixturevalue("sheets")
        made = GooglePlan(emulator)
        extra = f'[google]\nendpoint = "{emulator.url}"\n'
    (tmp_path / "milestone-sheets.toml").write_text(
        f'[source]\nlocation = "{made.location}"\n{extra}'
        '[review]\nfrom = "plan@example.com"\nmanager = "boss@example.com"\n'
        'outbox = "outbox"\n',
        encoding="utf-8",
    )
    monkeypatch.chdir(tmp_path)
    made.folder = tmp_path
    return made


def run(runner, *args):
    result = runner.invoke(main, list(args))
    assert result.exit_code == 0, result.output
    return result


def snapshots(folder: Path) -> int:
    history = History(folder / ".milestone-sheets")
    try:
        return history.db.execute("SELECT COUNT(*) FROM syncs").fetchone()[0]
    finally:
        history.close()


def the_series(runner, plan) -> None:
    """A quarter of weekly syncs with the edits of a real plan in between."""
    run(runner, "sync", "--as-of", "2026-03-31")  # the baselines
    plan.edit("M1", "Due", date(2026, 7, 15))  # the due date moved once...
    run(runner, "sync", "--as-of", "2026-04-15")
    assert snapshots(plan.folder) == 2
    run(runner, "sync", "--as-of", "2026-04-30")  # nothing changed: nothing recorded
    run(runner, "sync", "--as-of", "2026-05-05", "--dry-run")  # a dry run records nothing
    assert snapshots(plan.folder) == 2
    plan.edit("M1", "Due", date(2026, 7, 31))  # ...and twice
    run(runner, "sync", "--as-of", "2026-05-10")
    plan.edit("M3", "Budget", 9000)  # changes no computed cell: nothing to write, but recorded
    quiet = run(runner, "sync", "--as-of", "2026-05-12")
    assert "Up to date" in quiet.output and snapshots(plan.folder) == 4
    plan.edit("M2", "Completed", date(2026, 5, 18))  # done
    plan.delete("M5")  # removed
    plan.edit("M4", "Milestone", "Hiring plan")  # renamed, its ID kept
    plan.move_to_top("M4")  # and moved
    run(runner, "sync", "--as-of", "2026-05-20")


EXPECTED_HISTORY = [
    {"id": "M1", "name": "Website", "field": "due", "old": "2026-06-30", "new": "2026-07-15",
     "seen": "2026-04-15"},
    {"id": "M1", "name": "Website", "field": "due", "old": "2026-07-15", "new": "2026-07-31",
     "seen": "2026-05-10"},
    {"id": "M3", "name": "Launch", "field": "budget", "old": 8000, "new": 9000,
     "seen": "2026-05-12"},
    {"id": "M2", "name": "Seed round", "field": "status", "old": "On track", "new": "Done",
     "seen": "2026-05-20"},
    {"id": "M5", "name": "Office", "field": "status", "old": "On track", "new": "Removed",
     "seen": "2026-05-20"},
]  # fmt: skip


def since_section(text: str) -> list[str]:
    """The lines of an email's SINCE YOUR LAST REVIEW section."""
    if "SINCE YOUR LAST REVIEW" not in text:
        return []
    section = text.split("SINCE YOUR LAST REVIEW\n", 1)[1].split("\n\n", 1)[0]
    return section.splitlines()


def test_history_slip_emails_and_report_show_exactly_the_changes(runner, plan):
    the_series(runner, plan)

    # The history command: each change with the date it was seen, nothing else.
    listed = json.loads(run(runner, "history", "--format", "json").output)
    assert listed == EXPECTED_HISTORY
    only = json.loads(run(runner, "history", "--id", "m1", "--since", "2026-05-01",
                          "--format", "json").output)  # fmt: skip
    assert only == EXPECTED_HISTORY[1:2]
    table = run(runner, "history").output
    assert re.search(r"2026-05-20\s+M5\s+Office\s+status\s+On track\s+Removed", table)

    # The Slip column: M1 moved 31 days from its baseline; the others did not move.
    slip = plan.column("Slip (days)")
    assert slip == {"M4": 0, "M1": 31, "M2": 0, "M3": 0}
    assert plan.column("Notes")["M1"] == "keep"
    shown = json.loads(run(runner, "baseline", "--format", "json").output)
    m1 = next(row for row in shown if row["id"] == "M1")
    assert (m1["baseline_due"], m1["due"], m1["slip_days"]) == ("2026-06-30", "2026-07-31", 31)

    # The owners' review emails for May: what changed since the April review (the
    # snapshot of 2026-04-30), and only theirs.
    run(runner, "review", "--as-of", "2026-05-31")
    mails = {}
    for path in sorted((plan.folder / "outbox").glob("*.eml")):
        message = message_from_bytes(path.read_bytes(), policy=policy.default)
        mails[str(message["To"])] = message.get_body(("plain",)).get_content()
    ana = next(text for to, text in mails.items() if "ana@" in to)
    assert since_section(ana) == [
        "- M1 Website: due moved from 2026-07-15 to 2026-07-31 (16 days later)"
    ]
    ben = next(text for to, text in mails.items() if "ben@" in to)
    assert since_section(ben) == ["- M2 Seed round: done"]
    chloe = next(text for to, text in mails.items() if "chloe@" in to)
    assert since_section(chloe) == ["- M3 Launch: budget raised from 8,000 to 9,000"]
    dev = next(text for to, text in mails.items() if "dev@" in to)
    assert since_section(dev) == ["- M5 Office: removed from the sheet"]

    # The manager's digest: the plan's drift this month.
    digest = next(text for to, text in mails.items() if "boss@" in to)
    drift = digest.split("DRIFT SINCE THE LAST REVIEW\n", 1)[1].split("\n\n", 1)[0]
    assert drift.splitlines() == [
        "1 milestone slipped, by 16 days in all; slip against the baselines: 31 days.",
        "- M1 Website (Ana): due 2026-07-15 -> 2026-07-31, +16 days",
    ]

    # The report: the drift table, the trend chart's M1 line at each review, EV by month.
    run(runner, "report", "--as-of", "2026-05-31", "-o", "report.html")
    html = (plan.folder / "report.html").read_text(encoding="utf-8")
    assert re.search(r"<td>M1</td><td>Website</td><td>Ana</td><td>2026-07-15</td>"
                     r"<td>2026-07-31</td><td class=\"num\">\+16</td>", html)  # fmt: skip
    lines = re.findall(r'<polyline points="([^"]+)"[^>]*><title>([^<]+)</title>', html)
    by_label = {label: points.split() for points, label in lines}
    m1_points = by_label["M1 Website"]
    assert len(m1_points) == 3  # 2026-03-31, 2026-04-30 and now
    heights = [float(point.split(",")[1]) for point in m1_points]
    assert heights[0] > heights[1] > heights[2]  # later due dates stand higher
    assert len(by_label["M5 Office"]) == 2  # in the plan at the first two reviews only
    for name in ("PV", "EV", "AC"):
        assert len(by_label[name]) == 3


def test_a_reset_makes_the_current_due_date_the_baseline(runner, plan):
    the_series(runner, plan)
    run(runner, "baseline", "--reset", "--ids", "M1", "--as-of", "2026-05-25")
    run(runner, "sync", "--as-of", "2026-05-26")
    assert plan.column("Slip (days)")["M1"] == 0
    shown = json.loads(run(runner, "baseline", "--format", "json").output)
    m1 = next(row for row in shown if row["id"] == "M1")
    assert (m1["baseline_due"], m1["set_on"]) == ("2026-07-31", "2026-05-25")
    unknown = runner.invoke(main, ["baseline", "--reset", "--ids", "M9"])
    assert unknown.exit_code == 2 and "M9" in unknown.output


def test_the_store_is_private_and_small(runner, plan):
    the_series(runner, plan)
    store = plan.folder / ".milestone-sheets" / "history.sqlite3"
    assert store.stat().st_mode & 0o777 == 0o600
    assert store.parent.stat().st_mode & 0o777 == 0o700


def test_a_sync_that_repeats_the_last_one_writes_nothing_to_the_store(runner, plan):
    run(runner, "sync", "--as-of", "2026-05-04")
    store = plan.folder / ".milestone-sheets" / "history.sqlite3"
    before = (store.read_bytes(), store.stat().st_mtime_ns)
    run(runner, "sync", "--as-of", "2026-05-04")  # the same plan, the same day
    assert (store.read_bytes(), store.stat().st_mtime_ns) == before
    assert snapshots(plan.folder) == 1


def seen(key: str, due: date, status: str = "On track") -> Seen:
    return Seen(key.lower(), 2, key, key, "Ana", "ana@example.com", status, due=due)


def test_three_slips_since_the_baseline_are_named_and_a_reset_starts_the_count_again():
    dues = [date(2026, 6, 1), date(2026, 6, 10), date(2026, 6, 20), date(2026, 7, 1)]
    days = [date(2026, 2, 28), date(2026, 3, 31), date(2026, 4, 30)]
    snaps = [
        Snapshot(day, "", {"m1": seen("M1", due)}) for day, due in zip(days, dues, strict=False)
    ]
    now = {"m1": seen("M1", dues[3])}
    baseline = {"m1": Baseline(dues[0], None, days[0])}
    drift = plan_drift(Past(snaps, baseline), Month(2026, 5), now)
    assert [(s.key, count) for s, count in drift.repeated] == [("m1", REPEATED_SLIPS)]
    assert drift.total_slip == 30 and drift.slipped_days == 11
    reset = {"m1": Baseline(dues[2], None, days[2])}
    assert plan_drift(Past(snaps, reset), Month(2026, 5), now).repeated == []


def test_a_row_invalid_for_a_while_loses_no_change():
    before = {"m1": seen("M1", date(2026, 6, 1))}
    broken = {"m1": Seen("m1", 2, "M1", "M1", "Ana", "", "Invalid")}
    after = {"m1": seen("M1", date(2026, 6, 15))}
    found = changes([(date(2026, 3, 1), before), (date(2026, 3, 8), broken),
                     (date(2026, 3, 15), after)])  # fmt: skip
    assert [(c.field, c.old, c.new) for c in found] == [
        ("status", "On track", "Invalid"),
        ("status", "Invalid", "On track"),
        ("due", date(2026, 6, 1), date(2026, 6, 15)),
    ]
