"""From a source's grids to computed rows and the cells to write. Pure: no I/O.

This is where the model (headers, parsing, validation) meets the engine (status), the
goals above milestones and the tasks below them, and where computed values are compared
with what the sheet holds, so that only the cells that changed are written.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from operator import attrgetter, itemgetter
from typing import Any

from milestone_sheets import goals as g
from milestone_sheets import model
from milestone_sheets.engine import COLUMN_ATTRS, STATUSES, StatusSettings, compute_all
from milestone_sheets.errors import StructureError
from milestone_sheets.model import MILESTONES, Header, Record, SheetGrid, TableSpec, cell_ref
from milestone_sheets.sources.base import Book, CellWrite, RowGuard

GOAL_ATTRS = {
    "Status": "status",
    "Milestones": "milestones",
    "Expected to date": "expected_to_date",
    "Gap": "gap",
    "Next checkpoint": "next_checkpoint",
    "Check": "check",
}
TASK_ATTRS = {"Status": "status", "Check": "check"}


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
    computed: list[Any]
    attrs: Mapping[str, str] = field(default_factory=lambda: COLUMN_ATTRS)

    @property
    def sheet(self) -> str:
        return self.grid.title

    def rows(self) -> list[tuple[Record, Any]]:
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
    goals: TableResult | None = None
    tasks: TableResult | None = None

    @property
    def guards(self) -> list[RowGuard]:
        """For a live sheet: the rows' keys as read, and the computed columns, per table."""
        guards = (guard_of(table) for table in self.tables)
        return [guard for guard in guards if guard is not None]

    @property
    def tables(self) -> list[TableResult]:
        return [t for t in (self.milestones, self.goals, self.tasks) if t is not None]

    @property
    def problems(self) -> list[str]:
        lines = [line for table in self.tables for line in table.problem_lines()]
        return lines + self.sheet_problems

    @property
    def exit_code(self) -> int:
        return 1 if self.problems else 0


def guard_of(table: TableResult) -> RowGuard | None:
    header = table.header
    key_field = next((key for key in ("id", "name", "milestone") if key in header.fields), None)
    if key_field is None:
        return None
    key_col = header.fields[key_field]
    first = header.row + 1
    keys = {row: table.grid.cell(row, key_col) for row in range(first, len(table.grid.rows))}
    return RowGuard(table.sheet, key_col, first, keys, tuple(sorted(header.computed.values())))


def _header_error(title: str, spec: TableSpec) -> StructureError:
    return StructureError(
        f"{title}: no header row found in the first {model.HEADER_SCAN_ROWS} rows "
        f"(need at least {model.MIN_HEADER_MATCHES} of: "
        f"{', '.join(f.aliases[0] for f in spec.fields)})"
    )


Found = tuple[SheetGrid, Header]  # a table's grid and its header row


def _locate(book: Book, settings: Settings) -> tuple[Found, Found | None, Found | None]:
    """Find the Milestones, Goals and Tasks tables, reading the named sheets in one go."""
    titles = list(book.titles)
    by_fold = {title.strip().lower(): title for title in titles}
    if settings.worksheet and settings.worksheet.strip().lower() not in by_fold:
        raise StructureError(
            f"no worksheet named '{settings.worksheet}' (worksheets: {', '.join(titles)})"
        )
    preferred = settings.worksheet or getattr(book, "preferred_title", None)
    milestone_title = by_fold.get((preferred or MILESTONES.name).strip().lower())
    goal_title = by_fold.get(g.GOALS.name.lower())
    task_title = by_fold.get(g.TASKS.name.lower())
    wanted = [t for t in (milestone_title, goal_title, task_title) if t]
    grids = dict(book.grids(wanted)) if wanted else {}

    found: tuple[SheetGrid, Header] | None = None
    if milestone_title:
        header = model.find_header(grids[milestone_title], MILESTONES, settings.columns)
        if header is None:
            raise _header_error(milestone_title, MILESTONES)
        found = grids[milestone_title], header
    else:
        for title in titles:
            if title in (goal_title, task_title):
                continue
            grid = book.grids([title])[title]
            header = model.find_header(grid, MILESTONES, settings.columns)
            if header is not None:
                found = grid, header
                break
    if found is None:
        raise StructureError(
            f"no {MILESTONES.name} worksheet: none is named '{MILESTONES.name}' and no worksheet "
            f"has a header row with at least {model.MIN_HEADER_MATCHES} known column names"
        )

    def optional(title: str | None, spec: TableSpec) -> tuple[SheetGrid, Header] | None:
        if title is None or title == found[0].title:
            return None
        header = model.find_header(grids[title], spec)
        if header is None:
            raise _header_error(title, spec)
        return grids[title], header

    return found, optional(goal_title, g.GOALS), optional(task_title, g.TASKS)


def _keys(records: Sequence[Record]) -> set[str]:
    """The IDs and names a reference may use, folded."""
    return {
        str(record.values[key]).strip().lower()
        for record in records
        if not record.skipped
        for key in ("id", "name")
        if record.values.get(key)
    }


def _resolve(records: Sequence[Record]) -> dict[str, Record]:
    """Folded ID or name -> record (IDs win over names)."""
    index: dict[str, Record] = {}
    for key in ("name", "id"):
        for record in records:
            if not record.skipped and record.values.get(key):
                index[str(record.values[key]).strip().lower()] = record
    return index


def evaluate_table(
    grid: SheetGrid, header: Header, spec: TableSpec, settings: Settings, as_of: date
) -> TableResult:
    """Parse, validate and compute a milestone table on its own (no goals, no tasks)."""
    records = _validated_milestones(grid, header, settings, as_of, goal_keys=None)
    return TableResult(spec, grid, header, records, compute_all(records, as_of, settings.status))


def _validated_milestones(
    grid: SheetGrid,
    header: Header,
    settings: Settings,
    as_of: date,
    goal_keys: set[str] | None,
    uncached: frozenset[tuple[int, int]] | None = None,
) -> list[Record]:
    records = model.parse_rows(grid, header, MILESTONES, settings.date_order, uncached)
    model.check_dates(records, as_of)
    model.check_duplicates(records, MILESTONES, header)
    model.check_references(records, "goal", "Goal", goal_keys)
    model.order_problems(records, MILESTONES)
    return records


def _check(record: Record) -> str | None:
    return "; ".join(p.message for p in record.problems) or None


def evaluate(book: Book, settings: Settings, as_of: date) -> Evaluation:
    """Evaluate a source's milestones, goals and tasks as of `as_of`."""
    found, goals_found, tasks_found = _locate(book, settings)
    # First as if every formula had its saved value, the usual case: a source may still
    # be finding which formulas have none (see sources/background_scan.py), and is asked
    # only now. Where one does, in a column that is read, everything is computed again.
    tables = _computed_tables(found, goals_found, tasks_found, settings, as_of, frozenset())
    if any(model.reads_uncached(t.grid, t.header) for t in tables if t is not None):
        tables = _computed_tables(found, goals_found, tasks_found, settings, as_of, None)
    milestones, goals, tasks = tables
    writes: list[CellWrite] = []
    blocked: list[str] = []
    warnings = list(milestones.header.warnings)
    for table in (milestones, goals, tasks):
        if table is not None:
            table_writes, table_blocked = plan_writes(table)
            writes += table_writes
            blocked += table_blocked
            if table is not milestones:
                warnings += table.header.warnings
    return Evaluation(as_of, milestones, writes, blocked, warnings, goals, tasks)


def _computed_tables(
    found: Found,
    goals_found: Found | None,
    tasks_found: Found | None,
    settings: Settings,
    as_of: date,
    uncached: frozenset[tuple[int, int]] | None,
) -> tuple[TableResult, TableResult | None, TableResult | None]:
    """Milestones, goals and tasks parsed, checked and computed; `uncached` as parse_rows
    takes it."""
    m_grid, m_header = found
    goal_records: list[Record] = []
    if goals_found:
        goal_records = model.parse_rows(*goals_found, g.GOALS, settings.date_order, uncached)
        model.check_duplicates(goal_records, g.GOALS, goals_found[1])
        g.check_goal_rows(goal_records)
        model.order_problems(goal_records, g.GOALS)
    goal_keys = _keys(goal_records) if goals_found else None
    records = _validated_milestones(m_grid, m_header, settings, as_of, goal_keys, uncached)

    task_progress: dict[int, float] = {}
    tasks: TableResult | None = None
    if tasks_found:
        task_records = model.parse_rows(*tasks_found, g.TASKS, settings.date_order, uncached)
        model.check_references(task_records, "milestone", "Milestone", _keys(records))
        by_key = _resolve(records)
        counts: dict[int, list[int]] = {}
        model.order_problems(task_records, g.TASKS)
        for record in task_records:
            if record.skipped or record.problems:
                continue
            milestone = by_key[record.values["milestone"].strip().lower()]
            tally = counts.setdefault(milestone.row, [0, 0])
            tally[0] += g.is_task_done(record.values)
            tally[1] += 1
        task_progress = {row: done / total for row, (done, total) in counts.items()}
        task_results = [
            g.TaskResult()
            if r.skipped
            else g.TaskResult(g.INVALID, _check(r))
            if r.problems
            else g.TaskResult(g.task_status(r.values, as_of))
            for r in task_records
        ]
        tasks = TableResult(g.TASKS, *tasks_found, task_records, task_results, TASK_ATTRS)

    computed = compute_all(records, as_of, settings.status, task_progress)
    milestones = TableResult(MILESTONES, m_grid, m_header, records, computed)

    goals: TableResult | None = None
    if goals_found:
        statuses: dict[int, list[str]] = {}
        by_goal = _resolve(goal_records)
        for record, result in milestones.rows():
            goal = record.values.get("goal")
            if goal and not record.problems and goal.strip().lower() in by_goal:
                statuses.setdefault(by_goal[goal.strip().lower()].row, []).append(result.status)
        goal_results = [
            g.GoalResult()
            if r.skipped
            else g.GoalResult(status=g.INVALID, check=_check(r))
            if r.problems
            else g.compute_goal(
                r.values, as_of, settings.status.checkpoint_days, statuses.get(r.row, [])
            )
            for r in goal_records
        ]
        goals = TableResult(g.GOALS, *goals_found, goal_records, goal_results, GOAL_ATTRS)
    return milestones, goals, tasks


def _same(old: Any, new: Any) -> bool:
    """Does the cell already hold this computed value? (Numbers compare as numbers.)"""
    if old is None or old == "":
        return new is None
    if new is None or type(old) is bool:
        return False
    if isinstance(new, date):
        return isinstance(old, date) and old == new or old == new.isoformat()
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
    targets = [(name, columns[name]) for name in table.spec.computed]
    values_of = attrgetter(*(table.attrs[name] for name in table.spec.computed))
    formula_cols = set(map(itemgetter(1), grid.formula_cells))
    rows = grid.rows
    title = grid.title
    new_tuple = tuple.__new__
    for record, computed in zip(table.records, table.computed, strict=True):
        row = record.row - 1
        cells = rows[row] if row < len(rows) else []
        width = len(cells)
        for (name, col), value in zip(targets, values_of(computed), strict=True):
            if col in formula_cols and (row, col) in grid.formula_cells:
                if not record.skipped:
                    blocked.append(
                        f"{title}!{cell_ref(row, col)}: the {name} cell holds a formula; "
                        "it was not overwritten (clear it to let milestone-sheets fill it)"
                    )
                continue
            old = cells[col] if col < width else None
            # The common cases first: a blank cell staying blank, an unchanged value.
            if old is None or old == "":
                if value is None:
                    continue
            elif type(old) is type(value) and old == value:
                continue
            if not _same(old, value):
                if isinstance(value, date):
                    value = value.isoformat()
                # tuple.__new__ builds the CellWrite without its Python-level __new__
                # (half the cost, for the 350,000 writes of a 100,000-row first sync).
                old = None if old == "" else old
                writes.append(new_tuple(CellWrite, (title, row, col, value, old, None)))
    return writes, blocked


def summarize(
    results: Sequence[tuple[Record, Any]], order: Sequence[str] = STATUSES
) -> dict[str, int]:
    """Counts by status, in the given order, leaving out statuses with none."""
    counts = dict.fromkeys(order, 0)
    for _, computed in results:
        if computed.status:
            counts[computed.status] = counts.get(computed.status, 0) + 1
    return {status: count for status, count in counts.items() if count}
