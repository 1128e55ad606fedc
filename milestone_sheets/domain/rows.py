"""Rows of a table: header detection, row parsing and validation.

Pure functions over plain rows (a `SheetGrid`); no I/O. Sources build grids, the status
engine consumes the parsed records.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from milestone_sheets.domain import values as v
from milestone_sheets.domain.fields import TableSpec
from milestone_sheets.domain.grid import SheetGrid, cell_ref, column_letter

HEADER_SCAN_ROWS = 10
MIN_HEADER_MATCHES = 3


def normalize_header(text: Any) -> str:
    """Header matching ignores case, surrounding spaces and any `*` or `:`."""
    if text is None:
        return ""
    cleaned = str(text).replace("*", "").replace(":", "")
    return re.sub(r"\s+", " ", cleaned).strip().lower()


@dataclass(frozen=True)
class Header:
    """Where a table's header is and which column holds what (0-based indexes)."""

    row: int
    fields: Mapping[str, int]
    computed: Mapping[str, int]
    last_used_col: int  # by any row of the table (or a merged range in it): new columns go after
    warnings: tuple[str, ...] = ()
    end: int = 0  # the row after the table's last row (0-based, exclusive)
    style_col: int = 0  # the header's last cell, whose look new header cells take


def _alias_table(spec: TableSpec, overrides: Mapping[str, str]) -> dict[str, tuple[str, bool]]:
    """Normalized header -> (field key, configured). Configured headers win over aliases."""
    table: dict[str, tuple[str, bool]] = {}
    for fld in spec.fields:
        for alias in fld.aliases:
            table.setdefault(normalize_header(alias), (fld.key, False))
    for key, header in overrides.items():
        if any(f.key == key for f in spec.fields):
            table[normalize_header(header)] = (key, True)
    return table


def find_header(
    grid: SheetGrid, spec: TableSpec, overrides: Mapping[str, str] | None = None
) -> Header | None:
    """The first of the first 10 rows with at least 3 recognized field headers."""
    aliases = _alias_table(spec, overrides or {})
    computed_names = {normalize_header(name): name for name in spec.computed}
    for row_index in range(min(HEADER_SCAN_ROWS, len(grid.rows))):
        cells = grid.rows[row_index]
        matches: dict[str, list[tuple[int, bool]]] = {}
        for col, text in enumerate(cells):
            hit = aliases.get(normalize_header(text))
            if hit and normalize_header(text) not in computed_names:
                matches.setdefault(hit[0], []).append((col, hit[1]))
        if len(matches) < MIN_HEADER_MATCHES:
            continue
        fields: dict[str, int] = {}
        warnings = []
        for key, cols in matches.items():
            configured = [col for col, is_configured in cols if is_configured]
            chosen = configured[0] if configured else cols[0][0]
            fields[key] = chosen
            for col, _ in cols:
                if col != chosen:
                    warnings.append(
                        f"{grid.title}!{cell_ref(row_index, col)}: column '{cells[col]}' "
                        f"also matches {spec.field(key).label}; using "
                        f"'{cells[chosen]}' ({cell_ref(row_index, chosen)})"
                    )
        computed: dict[str, int] = {}
        for col, text in enumerate(cells):
            name = computed_names.get(str(text).strip().lower() if text is not None else "")
            if name and name not in computed:
                computed[name] = col
        used = [col for col, text in enumerate(cells) if text not in (None, "")]

        def starts_another_table(row: Sequence[Any]) -> bool:
            hits = {aliases[normalize_header(text)][0] for text in row
                    if normalize_header(text) in aliases}  # fmt: skip
            return len(hits) >= MIN_HEADER_MATCHES

        end = table_end(grid, row_index, sorted(set(fields.values())), starts_another_table)
        below = []  # rows past the end that look like the table's, up to another table
        for index in range(end, len(grid.rows)):
            if starts_another_table(grid.rows[index]):
                break
            if _given(grid.rows[index], fields.values()) >= 2:
                below.append(index)
        if below and not any(first == row_index for first, _, _, _ in grid.tables):
            warnings.append(
                f"{grid.title}!A{below[0] + 1}: the table ends at the blank row {end + 1}, and "
                f"{len(below)} row(s) below it that look like the table's were not read; "
                "remove the blank and label rows between them to include them."
            )
        return Header(row_index, fields, computed, _last_used_col(grid, row_index, end, max(used)),
                      tuple(warnings), end, max(used))  # fmt: skip
    return None


def _given(cells: Sequence[Any], cols: Iterable[int]) -> int:
    """How many of these columns' cells hold something."""
    return sum(1 for col in set(cols) if col < len(cells) and cells[col] not in ("", None))


def _blank_row(cells: Sequence[Any]) -> bool:
    return cells.count("") + cells.count(None) == len(cells)


def table_end(
    grid: SheetGrid,
    header_row: int,
    field_cols: Sequence[int],
    is_header: Callable[[Sequence[Any]], bool],
) -> int:
    """The row after the last row of the table whose header is `header_row`.

    An Excel table ends where its range does. Otherwise the table runs down to a fully
    blank row (every cell blank, computed ones too) after which the sheet holds nothing
    more, or something that is not a row of the table: a row with fewer than two of the
    table's field cells given (a note, a label, a lone figure) or another header row. A
    blank row followed by another row of the table is inside it (and skipped).
    """
    for first, _, last, _ in grid.tables:
        if first == header_row:
            return min(last + 1, len(grid.rows))
    rows = grid.rows
    index = header_row + 1
    while index < len(rows):
        if not _blank_row(rows[index]):
            index += 1
            continue
        blank = index
        while index < len(rows) and _blank_row(rows[index]):
            index += 1
        if index == len(rows):
            return blank
        following = rows[index]
        if _given(following, field_cols) < 2 or is_header(following):
            return blank
    return len(rows)


def _last_used_col(grid: SheetGrid, first: int, end: int, header_last: int) -> int:
    """The last column any row of the table uses (a value, or a merged range)."""
    last = header_last
    for r0, _, r1, c1 in grid.merged:
        if r0 < end and r1 >= first:
            last = max(last, c1)
    rows = grid.rows[first:end]
    width = max((len(cells) for cells in rows), default=0)
    for col in range(width - 1, last, -1):
        if any(col < len(cells) and cells[col] not in ("", None) for cells in rows):
            return col
    return last


@dataclass(frozen=True)
class Problem:
    """A data problem: the message for the Check column and the field whose cell it names."""

    message: str
    field: str | None = None


class RowValues(Mapping[str, Any]):
    """A row's parsed values by field key, stored as a tuple beside a shared key index.

    A dict per row costs about 1 KB; 100,000 rows of tuples cost a tenth of that.
    """

    __slots__ = ("_cells", "_index")

    def __init__(self, cells: tuple[Any, ...], index: Mapping[str, int]):
        self._cells = cells
        self._index = index

    def __getitem__(self, key: str) -> Any:
        return self._cells[self._index[key]]

    def get(self, key: str, default: Any = None) -> Any:
        position = self._index.get(key)
        return default if position is None else self._cells[position]

    def __contains__(self, key: object) -> bool:
        return key in self._index

    def __iter__(self) -> Iterator[str]:
        return iter(self._index)

    def __len__(self) -> int:
        return len(self._index)

    def __repr__(self) -> str:
        return f"RowValues({dict(self)!r})"


@dataclass(slots=True)
class Record:
    """One data row: its sheet row (1-based), parsed values and problems.

    The problems are a tuple, most often the shared empty one: a list per row would be
    one more object for the garbage collector to scan on every pass."""

    row: int
    values: Mapping[str, Any]
    problems: tuple[Problem, ...] = ()
    skipped: bool = False

    def add(self, problem: Problem) -> None:
        self.problems += (problem,)

    def cell_of(self, header: Header, problem: Problem, sheet: str) -> str:
        """Where a problem shows: `Milestones!G7`."""
        col = header.fields.get(problem.field) if problem.field else None
        if col is None:
            return f"{sheet}!{self.row}:{self.row}"
        return f"{sheet}!{column_letter(col)}{self.row}"


SUMMARY_NAMES = frozenset({"total", "totals", "sum", "grand total"})


def _is_summary_label(text: Any) -> bool:
    return isinstance(text, str) and text.rstrip(":").strip().lower() in SUMMARY_NAMES


def _is_summary_row(values: Mapping[str, Any], due_cell: Any) -> bool:
    """A totals row: named Total (or so), with no owner and no due text.

    The label may also stand in the ID column: an Excel table's totals row puts it in the
    table's first column, which is often the ID.
    """
    if not (_is_summary_label(values.get("name")) or _is_summary_label(values.get("id"))):
        return False
    return values.get("owner") is None and (due_cell is None or str(due_cell).strip() == "")


def _columns(rows: Sequence[Sequence[Any]], first: int, cols: list[int]) -> list[list[Any]]:
    """Each of `cols` as the list of its cells in rows[first:]; ragged rows (as the Sheets
    API sends them) read as blank (None) past their end."""
    data = rows[first:]
    return [[row[col] if col < len(row) else None for row in data] for col in cols]


def parse_rows(
    grid: SheetGrid,
    header: Header,
    spec: TableSpec,
    date_order: str = "DMY",
) -> list[Record]:
    """Parse every row below the header; blank and summary rows come back `skipped`.

    A formula cell saved without a value, in a field's column, is a problem of its row.
    """
    first = header.row + 1
    end = header.end or len(grid.rows)
    count = max(end - first, 0)
    columns: dict[str, list[Any]] = {}
    problems: dict[int, tuple[Problem, ...]] = {}
    due_cells: Sequence[Any] = [None] * count
    field_cols = sorted(set(header.fields.values()))
    cells_of = dict(zip(field_cols, _columns(grid.rows[:end], first, field_cols), strict=True))
    parsed_columns = []
    for fld in spec.fields:
        col = header.fields.get(fld.key)
        if col is None:
            continue
        cells: Sequence[Any] = cells_of[col]
        if fld.key == "due":
            due_cells = cells
        parsed_columns.append((fld, col, *v.parse_column(fld.kind, cells, fld.label, date_order)))
    for row, cell_col in grid.uncached_cells:
        for fld, col, parsed, column_problems in parsed_columns:
            if cell_col == col and first <= row < end:
                parsed[row - first] = None
                column_problems[row - first] = f"{fld.label} is a formula with no saved value"
    for fld, _col, parsed, column_problems in parsed_columns:
        columns[fld.key] = parsed
        for index, message in column_problems.items():
            problems[index] = (*problems.get(index, ()), Problem(message, fld.key))
    positions = {key: position for position, key in enumerate(columns)}
    rows: list[tuple[Any, ...]] = list(zip(*columns.values(), strict=True)) if columns else []
    records = [
        Record(first + index + 1, RowValues(row_values, positions), problems.get(index, ()))
        for index, row_values in enumerate(rows)
    ]
    # Blank and totals rows have no owner: only those rows need a closer look.
    owners = columns.get("owner")
    no_owner = (
        range(len(rows)) if owners is None else [i for i, o in enumerate(owners) if o is None]
    )
    for index in no_owner:
        record, row_values = records[index], rows[index]
        if index not in problems and row_values.count(None) == len(row_values):
            record.skipped = True
        elif _is_summary_row(record.values, due_cells[index]):
            record.skipped, record.problems = True, ()
    for fld in spec.fields:
        if not fld.required:
            continue
        column = columns.get(fld.key)
        blanks = (
            range(len(rows)) if column is None else [i for i, v in enumerate(column) if v is None]
        )
        for index in blanks:
            record = records[index]
            if not record.skipped and not any(p.field == fld.key for p in record.problems):
                record.add(Problem(f"{fld.label} is missing", fld.key))
    return records


def check_duplicates(records: Iterable[Record], spec: TableSpec, header: Header) -> None:
    """Every row sharing an ID (or a name, without an ID column) is invalid."""
    key_field = next((key for key in spec.key_fields if key in header.fields), None)
    if key_field is None:
        return
    groups: dict[str, list[Record]] = {}
    for record in records:
        text = record.values.get(key_field)
        if text and not record.skipped:
            folded = text.strip().lower()
            group = groups.get(folded)
            if group is None:
                groups[folded] = [record]
            else:
                group.append(record)
    label = "ID" if key_field == "id" else spec.field(key_field).label.lower()
    for group in groups.values():
        if len(group) < 2:
            continue
        text = group[0].values[key_field]
        rows = ", ".join(str(r.row) for r in group)
        for record in group:
            record.add(Problem(f"Duplicate {label} {text} (rows {rows})", key_field))


def check_dates(records: Iterable[Record], as_of: date) -> None:
    """Start after due, and completion dates in the future."""
    for record in records:
        if record.skipped:
            continue
        start, due = record.values.get("start"), record.values.get("due")
        completed = record.values.get("completed")
        if start and due and start > due:
            record.add(
                Problem(f"Start {start.isoformat()} is after Due {due.isoformat()}", "start")
            )
        if completed and completed > as_of:
            record.add(Problem(f"Completed {completed.isoformat()} is in the future", "completed"))


def check_references(
    records: Iterable[Record], key: str, label: str, known: Iterable[str] | None
) -> None:
    """A reference (a milestone's goal, a task's milestone) must name a known row."""
    if known is None:
        return
    folded = {name.strip().lower() for name in known}
    for record in records:
        target = record.values.get(key)
        if record.skipped or target is None:
            continue
        if target.strip().lower() not in folded:
            record.add(Problem(f"{label} '{target}' not found", key))


def order_problems(records: Iterable[Record], spec: TableSpec) -> None:
    """Problems in the order of the columns they name, so Check reads left to right."""
    rank = {fld.key: index for index, fld in enumerate(spec.fields)}
    for record in records:
        if len(record.problems) > 1:
            record.problems = tuple(
                sorted(record.problems, key=lambda p: rank.get(p.field or "", len(rank)))
            )
