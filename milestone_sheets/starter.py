"""The starter workbook for `init` and `demo`: a small company's plan, dated around today.

openpyxl creates it (it is a new file, so there is nothing to lose). Dates are relative to
the day it runs, so a fresh demo always shows every status, two data problems to fix,
goals with checkpoints and a few tasks.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.formatting.rule import CellIsRule
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation

from milestone_sheets.config import CONFIG_NAME
from milestone_sheets.domain.fields import MILESTONES

MILESTONE_HEADERS = [
    "ID", "Milestone", "Owner", "Email", "Category", "Department", "Goal", "Start", "Due",
    "Completed", "Budget", "Actual", "Progress", "Metric", "Target", "Result", "Notes",
    *MILESTONES.computed,
]  # fmt: skip
GOAL_HEADERS = [
    "ID", "Goal", "Area", "Owner", "Email", "Start", "Due", "Metric", "Target", "Actual",
    "Pacing", "Status", "Milestones", "Expected to date", "Gap", "Next checkpoint",
]  # fmt: skip
TASK_HEADERS = ["Milestone", "Task", "Owner", "Due", "Done", "Status"]
CATEGORIES = ("Marketing & Sales", "Product", "Other")
STATUS_COLORS = {
    "Done": "C6EFCE",
    "Done late": "FFEB9C",
    "On track": "DDEBF7",
    "At risk": "FCE4D6",
    "Overdue": "FFC7CE",
    "Not started": "EDEDED",
    "Invalid": "E4DFEC",
}

PEOPLE = {
    "Ana García": "ana.garcia@example.com",
    "Ben Okafor": "ben.okafor@example.com",
    "Chloé Martin": "chloe.martin@example.com",
    "Dev Patel": "dev.patel@example.com",
    "Emma Schultz": "emma.schultz@example.com",
}


def _milestones(today: date, month_before: bool = False) -> list[list[object]]:
    """Rows of the starter plan; offsets in days from today. `month_before`: the plan as
    it stood a month earlier, for the demo's history (M2 was not done yet, M3 was due
    15 days sooner, M4's budget was 10,000)."""

    def day(offset: int) -> date:
        return today + timedelta(days=offset)

    def row(id_, name, owner, category, dept, goal, start, due, completed, budget, actual,
            progress, metric="", target=None, result=None, notes="", email=None):  # fmt: skip
        return [
            id_, name, owner, PEOPLE.get(owner, "") if email is None else email, category, dept,
            goal, start, due, completed, budget, actual, progress, metric, target, result, notes,
        ]  # fmt: skip

    return [
        row("M1", "Website relaunch", "Chloé Martin", "Marketing & Sales", "Marketing", "G1",
            day(-60), day(-30), day(-32), 8000, 7400, 1, "Monthly visitors", 5000, 6100),
        row("M2", "Seed round closed", "Ana García", "Other", "Management", "G1",
            day(-90), day(-20), None if month_before else day(-12), 15000, 18250,
            0.9 if month_before else 1, "Raised ($)", 1_500_000, 1_250_000,
            "Legal fees ran over"),
        row("M3", "Product launch (v1.0)", "Dev Patel", "Product", "Engineering", "G1",
            day(-45), day(15 if month_before else 30), None, 40000, 21000, 0.55,
            "Active accounts", 200, None),
        row("M4", "First 100 paying customers", "Ben Okafor", "Marketing & Sales", "Sales", "G1",
            day(-30), day(60), None, 10000 if month_before else 12000, 3000, 0.05,
            "Paying customers", 100, 6),
        row("M5", "Hire head of engineering", "Ana García", "Other", "People", None,
            day(-40), day(-5), None, 20000, 14500, 0.8, "Offer accepted", 1, 0),
        row("M6", "CE mark (regulatory approval)", "Emma Schultz", "Product", "Quality", "G2",
            day(10), day(100), None, 30000, None, None),
        row("M7", "Pilot with 3 design partners", "Ben Okafor", "Marketing & Sales", "Sales", "G1",
            day(-20), day(20), None, 5000, 6200, 0.5, "Signed pilots", 3, 2),
        row("M8", "Pricing page and checkout", "Chloé Martin", "Product", "Engineering", "G1",
            day(-10), day(25), None, 6000, 1500, 0.3),
        row("M9", "ISO 27001 readiness", "Emma Schultz", "Other", "Quality", "G2",
            day(-15), day(120), None, 25000, 4000, None, "", None, None,
            "Progress comes from the Tasks sheet"),
        row("M10", "Trade show booth", "Ben Okafor", "Marketing & Sales", "Marketing", "G1",
            day(-5), "next friday", None, 9000, None, None, "", None, None,
            "Fix the due date"),
        row("M11", "Customer support desk", "", "Other", "Operations", None,
            day(-3), day(45), None, "3.5k", None, 0.1, "", None, None, "Who owns this?", ""),
        row("M12", "Annual plan for next year", "Ana García", "Other", "Management", None,
            day(-5), day(40), None, None, None, 0.1),
    ]  # fmt: skip


def _goals(today: date) -> list[list[object]]:
    start = today - timedelta(days=60)
    return [
        ["G1", "Monthly recurring revenue of $100,000", "Financial", "Ana García",
         PEOPLE["Ana García"], start, today + timedelta(days=120), "MRR ($)", 100000, 24000,
         "paced"],
        ["G2", "Certified to sell in the EU", "Operations", "Emma Schultz",
         PEOPLE["Emma Schultz"], start, today + timedelta(days=150), "Approval granted", 1, 0,
         "gate"],
    ]  # fmt: skip


def _tasks(today: date) -> list[list[object]]:
    def day(offset: int) -> date:
        return today + timedelta(days=offset)

    return [
        ["M9", "Gap analysis against the standard", "Emma Schultz", day(-10), day(-11)],
        ["M9", "Write the information security policy", "Emma Schultz", day(-2), "no"],
        ["M9", "Risk register", "Dev Patel", day(14), "no"],
        ["M9", "Internal audit", "Emma Schultz", day(90), "no"],
        ["M3", "Release candidate", "Dev Patel", day(20), "no"],
        ["M3", "Launch announcement", "Chloé Martin", day(29), "no"],
    ]


def _sheet(wb: Workbook, title: str, headers: list[str], rows: list[list[object]], first: bool,
           banner: str | None = None) -> None:  # fmt: skip
    ws = wb.active if first else wb.create_sheet()
    assert ws is not None
    ws.title = title
    header_row = 1
    if banner:
        ws.cell(row=1, column=1, value=banner).font = Font(bold=True, size=14)
        header_row = 2
    bold = Font(bold=True, color="FFFFFF")
    fill = PatternFill("solid", fgColor="305496")
    for col, text in enumerate(headers, start=1):
        cell = ws.cell(row=header_row, column=col, value=text)
        cell.font, cell.fill = bold, fill
        cell.alignment = Alignment(vertical="center", wrap_text=True)
        ws.column_dimensions[get_column_letter(col)].width = max(10, min(34, len(text) + 4))
    for offset, values in enumerate(rows, start=1):
        for col, value in enumerate(values, start=1):
            cell = ws.cell(row=header_row + offset, column=col, value=value)
            if isinstance(value, date):
                cell.number_format = "yyyy-mm-dd"
    ws.freeze_panes = ws.cell(row=header_row + 1, column=1)
    ws.auto_filter.ref = f"A{header_row}:{get_column_letter(len(headers))}{header_row + len(rows)}"


def build_workbook(
    path: Path, today: date, *, empty: bool = False, month_before: bool = False
) -> None:
    """Write the starter workbook: Milestones (with a title row), Goals and Tasks; with
    `empty`, the same sheets, headers and checks without the sample rows; with
    `month_before`, the plan as it stood a month earlier."""
    wb = Workbook()
    rows = [] if empty else _milestones(today, month_before)
    _sheet(wb, "Milestones", MILESTONE_HEADERS, rows, True, "Company plan: milestones")
    ws = wb["Milestones"]
    ws.column_dimensions["B"].width = 34
    last = 2 + len(rows) + 200  # room to add rows
    category = DataValidation(
        type="list", formula1='"' + ",".join(CATEGORIES) + '"', allow_blank=True
    )
    category.add(f"E3:E{last}")
    ws.add_data_validation(category)
    for col in ("K", "L"):
        for r in range(3, 3 + len(rows)):
            ws[f"{col}{r}"].number_format = "#,##0"
    for r in range(3, 3 + len(rows)):
        ws[f"M{r}"].number_format = "0%"
    status_col = get_column_letter(MILESTONE_HEADERS.index("Status") + 1)
    for status, color in STATUS_COLORS.items():
        ws.conditional_formatting.add(
            f"{status_col}3:{status_col}{last}",
            CellIsRule(
                operator="equal", formula=[f'"{status}"'], fill=PatternFill("solid", fgColor=color)
            ),
        )
    _sheet(wb, "Goals", GOAL_HEADERS, [] if empty else _goals(today), False)
    _sheet(wb, "Tasks", TASK_HEADERS, [] if empty else _tasks(today), False)
    wb["Tasks"].column_dimensions["B"].width = 40
    wb["Goals"].column_dimensions["B"].width = 40
    path.parent.mkdir(parents=True, exist_ok=True)
    wb.save(path)


STARTER_CONFIG = """\
# milestone-sheets configuration. Every key is optional; see the README for all of them.

[source]
location = "{location}"   # a workbook path (relative to this file) or a Google Sheets URL
# worksheet = "Milestones"
date_order = "DMY"             # how 03/04/2026 reads: "DMY" or "MDY"; ISO dates always work

[columns]                      # field = "the header in your sheet", where yours differ
# owner = "Responsible"

[status]
at_risk_behind = 0.25          # At risk when progress is 25 points behind the straight line
checkpoint_days = 7

[review]
# Who sends the reviews and who gets the digest: fill these in before `review --send`.
# They stay commented out so that nothing is ever mailed to a placeholder.
# from = "Plan Office <plans@yourcompany.com>"
# manager = "you@yourcompany.com"      # gets the digest
# allowed_domains = ["yourcompany.com"]  # never mail anyone outside these
outbox = "outbox"                      # review emails land here until you use --send

# [smtp]
# host = "smtp.example.com"
# security = "starttls"
# username = "plan@example.com"   # the password comes from MILESTONE_SHEETS_SMTP_PASSWORD
"""


DEMO_REVIEW = """
[review]
# The demo's made-up people, at example.com: nothing sent there reaches anyone.
from = "Plan Office <plan@example.com>"
manager = "ceo@example.com"
allowed_domains = ["example.com"]
outbox = "outbox"
"""


def write_config(folder: Path, workbook: Path, *, demo: bool = False) -> Path | None:
    """A milestone-sheets.toml beside the workbook, unless one is there already; the
    demo's names its made-up sender and manager."""
    path = folder / CONFIG_NAME
    if path.exists():
        return None
    try:
        location = workbook.resolve().relative_to(folder.resolve()).as_posix()
    except ValueError:
        location = str(workbook.resolve())
    text = STARTER_CONFIG.format(location=location)
    if demo:
        start = text.index("[review]")
        end = text.index("# [smtp]")
        text = text[:start] + DEMO_REVIEW.lstrip() + "\n" + text[end:]
    path.write_text(text, encoding="utf-8")
    return path


DEMO_KEY = "milestone-sheets-demo"


def starter_tables(today: date) -> dict[str, list[list[Any]]]:
    """The starter plan as plain rows per worksheet (for a Google Sheet or the emulator)."""
    return {
        "Milestones": [MILESTONE_HEADERS[: -len(MILESTONES.computed)]] + _milestones(today),
        "Goals": [GOAL_HEADERS[:11]] + _goals(today),
        "Tasks": [TASK_HEADERS[:5]] + _tasks(today),
    }
