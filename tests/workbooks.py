"""The one builder of test workbooks, written by another writer than ours (xlsxwriter):
`write_xlsx` for any sheets of rows, and `build` for the plan with one Excel feature each.

Deterministic: fixed dates, fixed creation time, no randomness, so a test that compares
packages part by part compares like with like.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import xlsxwriter


@dataclass(frozen=True)
class Formula:
    """A formula cell; `cached` is the saved result (None: saved without one)."""

    text: str
    cached: Any = 0


# The one header of the tests' plans (a test that needs other columns says so).
HEADER = [
    "ID", "Milestone", "Owner", "Email", "Category", "Start", "Due", "Completed",
    "Budget", "Actual", "Progress", "Notes",
]  # fmt: skip
D = date.fromisoformat
ROWS = [
    ["M1", "Website", "Ana", "ana@example.com", "Product", D("2026-05-01"), D("2026-06-01"),
     D("2026-05-30"), 1000, 900, 1, "went well"],
    ["M2", "Seed round", "Ben", "ben@example.com", "Other", D("2026-05-01"), D("2026-06-10"),
     None, 12500, 13000, 0.5, ""],
    ["M3", "Launch", "Cleo", "cleo@example.com", "Product", D("2026-06-01"), D("2026-07-01"),
     None, 5000, 1000, 0.5, "note"],
    ["M4", "Hire CTO", "Dev", "dev@example.com", "Other", D("2026-07-01"), D("2026-09-01"),
     None, 8000, None, None, None],
    ["M5", "Trade show", "Ana", "ana@example.com", "Marketing & Sales", None, "next friday",
     None, 100, None, None, ""],
    ["M6", "Pilot", "Ben", "ben@example.com", "Marketing & Sales", D("2026-06-01"),
     D("2026-06-30"), None, 400, 600, 0.6, ""],
]  # fmt: skip
# The feature workbooks' plan: a user formula column after the plan's own.
FEATURE_HEADER = [*HEADER, "Cost per day"]


def write_rows(
    sheet: Any, rows: list[list[Any]], first: int, date_format: Any, header_format: Any = None
) -> None:
    """Rows into a worksheet from 0-based row `first`: dates as date cells, `Formula`
    cells with their saved result, the first row in `header_format` when given."""
    for r, row in enumerate(rows, start=first):
        for c, value in enumerate(row):
            if value is None:
                continue
            if isinstance(value, Formula):
                # cached None: an empty <v></v>, as a tool that does not calculate saves it.
                sheet.write_formula(
                    r, c, value.text, None, "" if value.cached is None else value.cached
                )
            elif isinstance(value, (date, datetime)):
                sheet.write_datetime(
                    r, c, datetime(value.year, value.month, value.day), date_format
                )
            elif r == first and header_format is not None:
                sheet.write(r, c, value, header_format)
            else:
                sheet.write(r, c, value)


def write_xlsx(path: Path, sheets: dict[str, list[list[Any]]], *, title_rows: int = 0) -> Path:
    """A workbook of these sheets of rows (the first in bold); with `title_rows`, a
    merged title above each."""
    book = xlsxwriter.Workbook(str(path))
    date_format = book.add_format({"num_format": "yyyy-mm-dd"})
    bold = book.add_format({"bold": True, "bg_color": "#DDEBF7"})
    for name, rows in sheets.items():
        sheet = book.add_worksheet(name)
        if title_rows:
            sheet.merge_range(0, 0, 0, 4, f"{name}: our plan", bold)
        write_rows(sheet, rows, title_rows, date_format, bold)
    book.close()
    return path


AS_OF = "2026-06-15"
EXPECTED_STATUS = ["Done", "Overdue", "On track", "Not started", "Invalid", "At risk"]


def tiny_png() -> bytes:
    """A 2x2 red PNG, made here so no binary file is needed."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    raw = b"".join(b"\x00" + b"\xff\x00\x00" * 2 for _ in range(2))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", 2, 2, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


class Builder:
    """Writes the plan into a Milestones sheet and lets a feature add to the workbook."""

    def __init__(self, path: Path, title_rows: int = 0, vba: Path | None = None):
        self.book = xlsxwriter.Workbook(str(path), {"strings_to_numbers": False})
        self.book.set_properties({"created": datetime(2026, 1, 1)})
        self.date = self.book.add_format({"num_format": "yyyy-mm-dd"})
        self.bold = self.book.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1})
        self.sheet = self.book.add_worksheet("Milestones")
        self.header_row = title_rows
        self.first = title_rows + 1
        self.last = title_rows + len(ROWS)
        if vba:
            self.book.add_vba_project(str(vba))

    def write_plan(self, header_in_table: bool = False) -> None:
        if not header_in_table:
            for c, text in enumerate(FEATURE_HEADER):
                self.sheet.write(self.header_row, c, text, self.bold)
        rows = [row + [Formula(f"=J{r + 1}/30", round((row[9] or 0) / 30, 2))]
                for r, row in enumerate(ROWS, start=self.first)]  # fmt: skip
        write_rows(self.sheet, rows, self.first, self.date)

    def close(self) -> None:
        self.book.close()


def formulas_and_totals(b: Builder) -> None:
    b.write_plan()
    total = b.last + 1
    b.sheet.write(total, 1, "Total")
    b.sheet.write_formula(total, 8, f"=SUM(I{b.first + 1}:I{b.last + 1})", None, 27000)
    b.sheet.write_formula(total, 9, f"=SUM(J{b.first + 1}:J{b.last + 1})", None, 15500)
    # A user formula over the Status column, which the sync fills (column N).
    b.sheet.write(total + 2, 0, "Overdue:")
    b.sheet.write_formula(total + 2, 1, '=COUNTIF(N:N,"Overdue")', None, 0)


def conditional_formats(b: Builder) -> None:
    b.write_plan()
    rng = f"I{b.first + 1}:I{b.last + 1}"
    b.sheet.conditional_format(
        rng, {"type": "data_bar", "data_bar_2010": True, "bar_color": "#63BE7B"}
    )
    b.sheet.conditional_format(
        f"K{b.first + 1}:K{b.last + 1}", {"type": "icon_set", "icon_style": "3_traffic_lights"}
    )
    b.sheet.conditional_format(f"A{b.first + 1}:L{b.last + 1}", {"type": "formula", "criteria": f'=$N{b.first + 1}="Overdue"',
                                                                 "format": b.book.add_format({"bg_color": "#FFC7CE"})})  # fmt: skip


def validations(b: Builder) -> None:
    b.write_plan()
    lists = b.book.add_worksheet("Lists")
    for i, name in enumerate(["Marketing & Sales", "Product", "Other"]):
        lists.write(i, 0, name)
    b.sheet.data_validation(
        f"E{b.first + 1}:E{b.last + 50}", {"validate": "list", "source": "=Lists!$A$1:$A$3"}
    )
    b.sheet.data_validation(
        f"C{b.first + 1}:C{b.last + 50}",
        {"validate": "list", "source": ["Ana", "Ben", "Cleo", "Dev"]},
    )


def excel_table(b: Builder) -> None:
    b.write_plan(header_in_table=True)
    b.sheet.add_table(
        b.header_row, 0, b.last, len(FEATURE_HEADER) - 1,
        {"name": "Plan", "columns": [{"header": h} for h in FEATURE_HEADER], "style": "Table Style Medium 2"},
    )  # fmt: skip


def chart_sheet(b: Builder) -> None:
    b.write_plan()
    chart = b.book.add_chart({"type": "column"})
    chart.add_series({"name": "Budget", "categories": f"=Milestones!$B${b.first + 1}:$B${b.last + 1}",
                      "values": f"=Milestones!$I${b.first + 1}:$I${b.last + 1}"})  # fmt: skip
    b.book.add_worksheet("Charts").insert_chart("B2", chart)


def image(b: Builder) -> None:
    b.write_plan()
    import io

    b.sheet.insert_image(
        "P2", "logo.png", {"image_data": io.BytesIO(tiny_png()), "url": "https://example.com/"}
    )


def comments(b: Builder) -> None:
    b.write_plan()
    b.sheet.write_comment(
        f"B{b.first + 1}", "Launched on time!", {"visible": True, "author": "Ana", "x_scale": 2}
    )
    b.sheet.write_comment(f"I{b.first + 2}", "Includes legal fees", {"author": "Ben"})


def defined_names(b: Builder) -> None:
    b.write_plan()
    b.book.define_name("Budgets", f"=Milestones!$I${b.first + 1}:$I${b.last + 1}")
    b.book.define_name("Milestones!LocalName", "=Milestones!$A$1")


def panes_and_filter(b: Builder) -> None:
    b.write_plan()
    b.sheet.freeze_panes(b.first, 2)
    b.sheet.autofilter(b.header_row, 0, b.last, len(FEATURE_HEADER) - 1)


def hidden_sheet(b: Builder) -> None:
    b.write_plan()
    hidden = b.book.add_worksheet("Secret")
    hidden.write(0, 0, "hidden notes")
    hidden.hide()


def sparklines(b: Builder) -> None:
    b.write_plan()
    # Sparklines in the user's own column, right of the data.
    b.sheet.write(b.header_row, 13, "Trend", b.bold)
    for r in range(b.first, b.last + 1):
        b.sheet.add_sparkline(r, 13, {"range": f"Milestones!I{r + 1}:J{r + 1}"})


def hyperlinks(b: Builder) -> None:
    b.write_plan()
    b.sheet.write_url(b.first, 11, "https://example.com/website", string="spec")
    b.sheet.write_url(b.first + 1, 11, "internal:Milestones!A1", string="top")


def formats_and_widths(b: Builder) -> None:
    money = b.book.add_format({"num_format": '#,##0 "EUR";[Red]-#,##0 "EUR"'})
    b.sheet.set_column("B:B", 32)
    b.sheet.set_column("I:J", 14, money)
    b.sheet.set_row(b.header_row, 30)
    b.write_plan()


def merged_title(b: Builder) -> None:
    b.sheet.merge_range(0, 0, 0, 5, "Company plan 2026", b.bold)
    b.write_plan()


FEATURES: dict[str, Callable[[Builder], None]] = {
    "formulas_and_totals": formulas_and_totals,
    "conditional_formats": conditional_formats,
    "validations": validations,
    "excel_table": excel_table,
    "chart_sheet": chart_sheet,
    "image": image,
    "comments": comments,
    "defined_names": defined_names,
    "panes_and_filter": panes_and_filter,
    "hidden_sheet": hidden_sheet,
    "sparklines": sparklines,
    "hyperlinks": hyperlinks,
    "formats_and_widths": formats_and_widths,
    "merged_title": merged_title,
}


def build(path: Path, feature: str, vba: Path | None = None) -> Path:
    builder = Builder(path, title_rows=1 if feature == "merged_title" else 0, vba=vba)
    FEATURES[feature](builder)
    builder.close()
    return path
