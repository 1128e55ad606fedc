"""What a sync writes: the computed cells that differ from what the sheet holds.

Pure, like the domain: an evaluated source in, the cell writes out. A computed cell that
holds the user's formula is never written; it is reported instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any, NamedTuple

from milestone_sheets.domain.evaluate import Evaluation, TableResult
from milestone_sheets.domain.grid import cell_ref

CellValue = str | int | float | None


class CellWrite(NamedTuple):
    """One computed cell to write (0-based row and column).

    `old` is what the sheet held, for dry runs; `style_like` names a column in the same
    row whose look a new cell should take (used for added header cells).
    """

    sheet: str
    row: int
    col: int
    value: CellValue
    old: Any = None
    style_like: int | None = None


class RowGuard(NamedTuple):
    """What must still hold when writing to a live sheet: each data row's key (ID, else
    name) as it was read, and the computed columns that may have gained a formula."""

    sheet: str
    key_col: int
    first_row: int  # 0-based, the first data row
    keys: dict[int, Any]  # 0-based row -> the key cell as read
    computed_cols: tuple[int, ...]


@dataclass(frozen=True)
class Changes:
    """The cells to write, and the formulas in computed cells that block a write."""

    writes: list[CellWrite]
    blocked: list[str]
    guards: list[RowGuard]


def plan_changes(evaluation: Evaluation) -> Changes:
    """Every table's computed cells that changed, in sheet and row order."""
    writes: list[CellWrite] = []
    blocked: list[str] = []
    guards: list[RowGuard] = []
    for table in evaluation.tables:
        table_writes, table_blocked = plan_writes(table)
        writes += table_writes
        blocked += table_blocked
        guard = guard_of(table)
        if guard is not None:
            guards.append(guard)
    return Changes(writes, blocked, guards)


def guard_of(table: TableResult) -> RowGuard | None:
    """The table's row keys as read, for a source that checks them before writing."""
    header = table.header
    key_field = next((key for key in ("id", "name", "milestone") if key in header.fields), None)
    if key_field is None:
        return None
    key_col = header.fields[key_field]
    first = header.row + 1
    keys = {row: table.grid.cell(row, key_col) for row in range(first, len(table.grid.rows))}
    return RowGuard(table.sheet, key_col, first, keys, tuple(sorted(header.computed.values())))


def _same(old: Any, new: Any) -> bool:
    """Does the cell already hold this computed value? (Numbers compare as numbers.)"""
    if old is None or old == "":
        return new is None
    if new is None or type(old) is bool:
        return False
    if isinstance(new, date):
        return isinstance(old, date) and old == new or old == new.isoformat()
    return bool(old == new) and (type(old) is str) == (type(new) is str)


def plan_writes(table: TableResult) -> tuple[list[CellWrite], list[str]]:
    """The computed cells that differ from the sheet, and formulas that block a write."""
    grid, header = table.grid, table.header
    writes: list[CellWrite] = []
    blocked: list[str] = []
    columns = dict(header.computed)
    next_col = header.last_used_col + 1
    for name in table.spec.computed:
        if name not in columns:
            columns[name] = next_col
            writes.append(
                CellWrite(grid.title, header.row, next_col, name, None, header.last_used_col)
            )
            next_col += 1
    targets = [(name, columns[name]) for name in table.spec.computed]
    formula_cells, rows = grid.formula_cells, grid.rows
    for record, computed in zip(table.records, table.computed, strict=True):
        row = record.row - 1
        cells = rows[row] if row < len(rows) else []
        values = computed.column_values()
        for name, col in targets:
            if formula_cells and (row, col) in formula_cells:
                if not record.skipped:
                    blocked.append(
                        f"{grid.title}!{cell_ref(row, col)}: the {name} cell holds a formula; "
                        "it was not overwritten (clear it to let milestone-sheets fill it)"
                    )
                continue
            value = values[name]
            old = cells[col] if col < len(cells) else None
            if old == "":
                old = None
            if old is value or _same(old, value):
                continue
            if isinstance(value, date):
                value = value.isoformat()
            writes.append(CellWrite(grid.title, row, col, value, old))
    return writes, blocked
