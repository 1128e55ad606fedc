"""Shared fixtures: workbooks written by another writer (xlsxwriter), and the CLI runner."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
import xlsxwriter
from click.testing import CliRunner


@dataclass(frozen=True)
class Formula:
    """A formula cell; `cached` is the saved result (None: saved without one)."""

    text: str
    cached: Any = 0


HEADER = [
    "ID", "Milestone", "Owner", "Email", "Category", "Start", "Due", "Completed",
    "Budget", "Actual", "Progress", "Notes",
]  # fmt: skip


def write_xlsx(path: Path, sheets: dict[str, list[list[Any]]], *, title_rows: int = 0) -> Path:
    """A workbook written by xlsxwriter; dates become real date cells."""
    book = xlsxwriter.Workbook(str(path))
    date_format = book.add_format({"num_format": "yyyy-mm-dd"})
    bold = book.add_format({"bold": True, "bg_color": "#DDEBF7"})
    for name, rows in sheets.items():
        sheet = book.add_worksheet(name)
        if title_rows:
            sheet.merge_range(0, 0, 0, 4, f"{name}: our plan", bold)
        for r, row in enumerate(rows, start=title_rows):
            for c, value in enumerate(row):
                if value is None:
                    continue
                if isinstance(value, Formula):
                    if value.cached is None:
                        # An empty <v></v>: saved without a result, as by a tool that
                        # does not calculate.
                        sheet.write_formula(r, c, value.text, None, "")
                    else:
                        sheet.write_formula(r, c, value.text, None, value.cached)
                elif isinstance(value, (date, datetime)):
                    sheet.write_datetime(
                        r, c, datetime(value.year, value.month, value.day), date_format
                    )
                elif r == title_rows:
                    sheet.write(r, c, value, bold)
                else:
                    sheet.write(r, c, value)
    book.close()
    return path


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture
def plan_rows() -> list[list[Any]]:
    """A plan with a user formula column, a Notes column and bad rows (as of 2026-06-15)."""
    return [
        HEADER + ["Cost per day"],
        ["M1", "Website", "Ana", "ana@example.com", "Product", date(2026, 5, 1), date(2026, 6, 1),
         date(2026, 5, 30), 1000, 900, 1, "went well", Formula("=J3/30", 30)],
        ["M2", "Seed round", "Ben", "ben@example.com", "Other", date(2026, 5, 1), date(2026, 6, 10),
         None, "$12,500", "13k", 0.5, "", Formula("=J4/30", 433.33)],
        ["M3", "Launch", "Cleo", "cleo@example.com", "Product", date(2026, 6, 1), date(2026, 7, 1),
         None, 5000, 1000, "50%", "note", None],
        ["M4", "Hire CTO", "Dev", "dev@example.com", "Other", date(2026, 7, 1), date(2026, 9, 1),
         None, None, None, None, None, None],
        ["M5", "Trade show", "Ana", "ana@example.com", "Marketing & Sales", None, "next friday",
         None, 100, None, None, "", None],
        ["M6", "Support desk", None, "not an email", "Other", None, date(2026, 8, 1),
         None, "lots", None, 150, "", None],
    ]  # fmt: skip
