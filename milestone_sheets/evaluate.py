"""From a source's grids to computed rows and the cells to write. Pure: no I/O.

This is where the model (headers, parsing, validation) meets the engine (status), and
where computed values are compared with what the sheet holds, so that only the cells that
changed are written.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from milestone_sheets import model
from milestone_sheets.engine import COLUMN_ATTRS, STATUSES, Computed, StatusSettings, compute_all
from milestone_sheets.errors import StructureError
from milestone_sheets.model import MILESTONES, Header, Record, SheetGrid, TableSpec, cell_ref
from milestone_sheets.sources.base import Book, CellWrite


@dataclass(frozen=True)
class Settings:
    """What evaluation needs from the config."""

    worksheet: str | None = None
    date_order: str = "DMY"
    columns: Mapping[str, str] = field(default_factory=dict)
    status: StatusSettings = StatusSettings()


@dataclass
class TableResult:
    """One evaluated table: its grid, header, parsed rows and computed values."""

    spec: TableSpec
    grid: SheetGrid
    header: Header
    records: list[Record]
    computed: list[Computed]

    @property
    def sheet(self) -> str:
        return self.grid.title

    def rows(self) -> list[tuple[Record, Computed]]:
        """The rows that count (not skipped), with their computed values."""
        return [(r, c) for r, c in zip(self.records, self.computed, strict=True) if not r.skipped]

    def problem_lines(self) -> list[str]:
        """Each row problem with its cell: `Milestones!G7: Due 'next friday' is not a date`."""
        return [
            f"{record.cell_of(self.header, problem, self.sheet)}: {problem.message}"
            for record in self.records
            for problem in record.problems
        ]


@dataclass
class Evaluation:
    """A whole source, evaluated as of a date."""

    as_of: date
    milestones: TableResult
    writes: list[CellWrite]
    sheet_problems: list[str]
    warnings: list[str]

    @property
    def problems(self) -> list[str]:
        return self.milestones.problem_lines() + self.sheet_problems

    @property
    def exit_code(self) -> int:
        return 1 if self.problems else 0


def _find_sheet(
    book: Book, name: str | None, spec: TableSpec, columns: Mapping[str, str], required: bool
) -> tuple[SheetGrid, Header] | None:
    """The named worksheet, else the one named after the table, else the first that fits."""
    titles = list(book.titles)
    by_fold = {title.strip().lower(): title for title in titles}
    wanted = name or spec.name
    title = by_fold.get(wanted.strip().lower())
    if name and title is None:
        raise StructureError(f"no worksheet named '{name}' (worksheets: {', '.join(titles)})")
    candidates = [title] if title else (titles if required else [])
    for candidate in candidates:
        grid = book.grids([candidate])[candidate]
        header = model.find_header(grid, spec, columns)
        if header is not None:
            return grid, header
        if title:
            raise StructureError(
                f"{candidate}: no header row found in the first {model.HEADER_SCAN_ROWS} rows "
                f"(need at least {model.MIN_HEADER_MATCHES} of: "
                f"{', '.join(f.aliases[0] for f in spec.fields)})"
            )
    if required:
        raise StructureError(
            f"no {spec.name} worksheet: none is named '{spec.name}' and no worksheet has a "
            f"header row with at least {model.MIN_HEADER_MATCHES} known column names"
        )
    return None


def evaluate_table(
    grid: SheetGrid, header: Header, spec: TableSpec, settings: Settings, as_of: date
) -> TableResult:
    """Parse and validate a milestone table and compute its rows."""
    records = model.parse_rows(grid, header, spec, settings.date_order)
    model.check_dates(records, as_of)
    model.check_duplicates(records, spec, header)
    for record in records:
        model.order_problems(record, spec)
    computed = compute_all(records, as_of, settings.status)
    return TableResult(spec, grid, header, records, computed)


def _same(old: Any, new: Any) -> bool:
    """Does the cell already hold this computed value? (Numbers compare as numbers.)"""
    if old is None or old == "":
        return new is None
    if new is None or type(old) is bool:
        return False
    return old == new and (type(old) is str) == (type(new) is str)


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
    targets = [(name, columns[name], COLUMN_ATTRS[name]) for name in table.spec.computed]
    formula_cols = {col for _, col in grid.formula_cells}
    rows = grid.rows
    for record, computed in zip(table.records, table.computed, strict=True):
        row = record.row - 1
        cells = rows[row] if row < len(rows) else []
        for name, col, attr in targets:
            value = getattr(computed, attr)
            if col in formula_cols and (row, col) in grid.formula_cells:
                if not record.skipped:
                    blocked.append(
                        f"{grid.title}!{cell_ref(row, col)}: the {name} cell holds a formula; "
                        "it was not overwritten (clear it to let milestone-sheets fill it)"
                    )
                continue
            old = cells[col] if col < len(cells) else None
            if not _same(old, value):
                writes.append(CellWrite(grid.title, row, col, value, None if old == "" else old))
    return writes, blocked


def computed_values(spec: TableSpec, computed: Computed) -> dict[str, Any]:
    """The computed columns of a table's row, by header."""
    values = computed.column_values()
    return {name: values.get(name) for name in spec.computed}


def evaluate(book: Book, settings: Settings, as_of: date) -> Evaluation:
    """Evaluate the milestones of a source as of `as_of`."""
    found = _find_sheet(book, settings.worksheet, MILESTONES, settings.columns, required=True)
    assert found is not None
    grid, header = found
    milestones = evaluate_table(grid, header, MILESTONES, settings, as_of)
    writes, blocked = plan_writes(milestones)
    return Evaluation(as_of, milestones, writes, blocked, list(header.warnings))


def summarize(results: Sequence[tuple[Record, Computed]]) -> dict[str, int]:
    """Counts by status, in the spec's order, leaving out statuses with none."""
    counts = {status: 0 for status in STATUSES}
    for _, computed in results:
        if computed.status:
            counts[computed.status] += 1
    return {status: count for status, count in counts.items() if count}
