"""What a sync writes: the computed cells that differ from what the sheet holds.

Pure, like the domain: an evaluated source in, the cell writes out. A computed cell that
holds the user's formula is never written; it is reported instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any, NamedTuple

from milestone_sheets.domain.evaluate import Evaluation, TableResult
from milestone_sheets.domain.goals import GOAL_STATUSES, OPEN
from milestone_sheets.domain.grid import area_ref, cell_ref
from milestone_sheets.domain.status import STATUSES

CellValue = str | int | float | None


class CellWrite(NamedTuple):
    """One computed cell to write (0-based row and column).

    `old` is what the sheet held, for dry runs; `style_like` names a column in the same
    row whose look a new cell should take (used for added header cells); `number_format`
    is the number format the cell shows (a code, or a column of the same row whose format
    it takes: the Budget's, for the variance).
    """

    sheet: str
    row: int
    col: int
    value: CellValue
    old: Any = None
    style_like: int | None = None
    number_format: str | int | None = None  # a format code, or a column to take it from


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
    # Without a history there is no baseline: the Slip cells are left as they are.
    without = () if evaluation.past is not None else (SLIP,)
    for table in evaluation.tables:
        table_writes, table_blocked = plan_writes(table, without)
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
    end = header.end or len(table.grid.rows)
    keys = {row: table.grid.cell(row, key_col) for row in range(first, end)}
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


MAX_ROW, MAX_COL = 1_048_575, 16_383  # 0-based: row 1,048,576 and column XFD, Excel's last
MAX_TEXT = 32_767  # the most characters a cell holds in Excel
SLIP = "Slip (days)"
_NUMERIC_COLUMNS = frozenset(
    {"Days late", SLIP, "Budget variance", "Budget variance %", "Expected progress %",
     "Expected to date", "Gap"}
)  # fmt: skip
_STATUS_WORDS = frozenset(STATUSES) | frozenset(GOAL_STATUSES) | {OPEN}
_BLANK = frozenset({"", None})


def could_have_written(name: str, value: Any) -> bool:
    """Could a sync have written this value in the computed column `name`? A value it
    never writes (Complete in a Status column, text in Days late) is the user's."""
    if value is None or value == "":
        return True
    if name == "Status":
        return value in _STATUS_WORDS
    if name in _NUMERIC_COLUMNS:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return not isinstance(value, bool)


def _foreign_columns(table: TableResult) -> dict[str, str]:
    """The computed columns the sheet already has that hold a value of the user's: the
    message for each. Such a column is not taken over: none of its cells is written."""
    grid, header = table.grid, table.header
    rows = grid.rows
    data = [record.row - 1 for record in table.records if record.row - 1 < len(rows)]
    found = {}
    for name, col in header.computed.items():
        present = [row for row in data if col < len(rows[row])]
        values = [rows[row][col] for row in present]
        if _all_ours(name, values):
            continue
        # A formula is reported on its own.
        foreign = [(row, value) for row, value in zip(present, values, strict=True)
                   if value not in _BLANK and not could_have_written(name, value)
                   and (row, col) not in grid.formula_cells]  # fmt: skip
        if not foreign:
            continue
        examples = ", ".join(f"{value!r} in {cell_ref(row, col)}" for row, value in foreign[:3])
        found[name] = (
            f"{grid.title}!{cell_ref(header.row, col)}: the column '{grid.cell(header.row, col)}' "
            f"holds values milestone-sheets never writes there ({examples}"
            f"{', ...' if len(foreign) > 3 else ''}); it was left as it is and no {name} was "
            f"written. Rename that column (for example to 'Stage') to let milestone-sheets add "
            f"its own {name} column, or clear it to let milestone-sheets fill it."
        )
    return found


def _all_ours(name: str, values: list[Any]) -> bool:
    """Could a sync have written every one of these values? Each distinct value is looked
    at once (a column of 100,000 cells holds a few hundred); True and 1 are one value to
    a set, so a column holding a boolean is left to the cell-by-cell look."""
    if bool in set(map(type, values)):
        return False
    return all(could_have_written(name, value) for value in set(values))


PERCENT_POINTS = '0.0"%"'  # the % columns hold percentage points: 46.7 reads 46.7%
WHOLE_DAYS = "0"


def number_formats(table: TableResult) -> dict[str, str | int]:
    """The number format of each numeric computed column: whole days, percentage points,
    and for the variance the Budget cell's own format (its column)."""
    if table.spec.name != "Milestones":
        return {}
    formats: dict[str, str | int] = {"Days late": WHOLE_DAYS, SLIP: WHOLE_DAYS,
                                     "Budget variance %": PERCENT_POINTS,
                                     "Expected progress %": PERCENT_POINTS}  # fmt: skip
    budget = table.header.fields.get("budget")
    if budget is not None:
        formats["Budget variance"] = budget
    return formats


def plan_writes(
    table: TableResult, without: tuple[str, ...] = ()
) -> tuple[list[CellWrite], list[str]]:
    """The computed cells that differ from the sheet, and the cells left alone and why:
    formulas, a column of the user's, merged ranges, cells past the sheet's last column.
    The cells of the computed columns named in `without` are not written."""
    grid, header = table.grid, table.header
    writes: list[CellWrite] = []
    foreign = _foreign_columns(table)
    blocked: list[str] = list(foreign.values())
    columns = {name: col for name, col in header.computed.items() if name not in foreign}
    next_col = header.last_used_col + 1
    for name in table.spec.computed:
        if name in columns or name in foreign:
            continue
        if next_col > MAX_COL:
            blocked.append(f"{grid.title}: no column is left past {cell_ref(header.row, MAX_COL)} "
                           f"for {name}; it was not added")  # fmt: skip
            continue
        columns[name] = next_col
        writes.append(CellWrite(grid.title, header.row, next_col, name, None, header.style_col))
        next_col += 1
    targets = [(name, columns[name]) for name in table.spec.computed
               if name in columns and name not in without]  # fmt: skip
    formats = number_formats(table)
    formula_cells, rows = grid.formula_cells, grid.rows
    formula_rows: dict[int, set[int]] = {col: set() for _, col in targets}
    for r, c in formula_cells:
        if c in formula_rows:
            formula_rows[c].add(r)
    # Each target with its number format and the rows where it holds a formula.
    plan = [(name, col, formats.get(name), formula_rows[col]) for name, col in targets]
    merges_told: set[tuple[int, int, int, int]] = set()
    for record, computed in zip(table.records, table.computed, strict=True):
        row = record.row - 1
        if row > MAX_ROW:
            break
        cells = rows[row] if row < len(rows) else ()
        width = len(cells)
        values = computed.column_values()
        for name, col, number_format, in_formula in plan:
            if in_formula and row in in_formula:
                if not record.skipped:
                    blocked.append(
                        f"{grid.title}!{cell_ref(row, col)}: the {name} cell holds a formula; "
                        "it was not overwritten (clear it to let milestone-sheets fill it)"
                    )
                continue
            value = values[name]
            if type(value) is str and len(value) > MAX_TEXT:
                value = value[: MAX_TEXT - 1] + "…"
            old = cells[col] if col < width else None
            if old == "":
                old = None
            if old is value or _same(old, value):
                continue
            merge = grid.merge_at(row, col) if grid.merged else None
            if merge is not None:
                if merge not in merges_told:
                    merges_told.add(merge)
                    blocked.append(f"{grid.title}!{cell_ref(row, col)}: the {name} cell is inside "
                                   f"the merged range {area_ref(merge)}; it was not written "
                                   "(unmerge it to let milestone-sheets fill it)")  # fmt: skip
                continue
            if isinstance(value, date):
                value = value.isoformat()
            writes.append(CellWrite(grid.title, row, col, value, old, None, number_format))
    return writes, blocked
