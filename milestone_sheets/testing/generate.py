"""Large milestone workbooks for benchmarks and crash tests, written with xlsxwriter."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

HEADER = [
    "ID", "Milestone", "Owner", "Email", "Category", "Department", "Start", "Due",
    "Completed", "Budget", "Actual", "Progress", "Metric", "Target", "Result", "Notes",
    "Cost per day",
]  # fmt: skip
CATEGORIES = ("Marketing & Sales", "Product", "Other")


def generate_plan(path: Path, rows: int, today: date = date(2026, 6, 15)) -> Path:
    """A plan of `rows` milestones with a mix of statuses, a user formula column and notes.

    Deterministic: row i's values depend only on i. Uses xlsxwriter's constant-memory mode.
    """
    import xlsxwriter

    book = xlsxwriter.Workbook(str(path), {"constant_memory": True})
    book.set_properties({"created": datetime(2026, 1, 1)})
    date_format = book.add_format({"num_format": "yyyy-mm-dd"})
    sheet = book.add_worksheet("Milestones")
    sheet.write_row(0, 0, HEADER)
    for i in range(rows):
        r = i + 1
        start = today + timedelta(days=(i * 7) % 120 - 80)
        due = start + timedelta(days=30 + i % 60)
        completed = due - timedelta(days=2 - i % 5) if i % 4 == 0 and due < today else None
        budget = 1000 + (i * 37) % 9000
        actual = budget * (0.5 + (i % 7) / 10) if i % 3 else None
        owner = f"Owner {i % 250}"
        sheet.write_string(r, 0, f"M{r}")
        sheet.write_string(r, 1, f"Milestone number {r}")
        sheet.write_string(r, 2, owner)
        sheet.write_string(r, 3, f"owner{i % 250}@example.com")
        sheet.write_string(r, 4, CATEGORIES[i % 3])
        sheet.write_string(r, 5, "Team " + "ABCDE"[i % 5])
        sheet.write_datetime(r, 6, datetime(start.year, start.month, start.day), date_format)
        if i % 97 == 5:
            sheet.write_string(r, 7, "next friday")
        else:
            sheet.write_datetime(r, 7, datetime(due.year, due.month, due.day), date_format)
        if completed:
            sheet.write_datetime(
                r, 8, datetime(completed.year, completed.month, completed.day), date_format
            )
        sheet.write_number(r, 9, budget)
        if actual is not None:
            sheet.write_number(r, 10, round(actual, 2))
        sheet.write_number(r, 11, (i % 10) / 10)
        sheet.write_string(r, 12, "Customers")
        sheet.write_number(r, 13, 100)
        sheet.write_number(r, 14, i % 120)
        sheet.write_string(r, 15, f"note {r}" if i % 2 else "")
        sheet.write_formula(r, 16, f"=K{r + 1}/30", None, round((actual or 0) / 30, 2))
    book.close()
    return path
