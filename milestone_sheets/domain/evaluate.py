"""From a book's grids to computed rows: milestones, the goals above them and the tasks
below them. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from milestone_sheets.domain import drift
from milestone_sheets.domain import goals as g
from milestone_sheets.domain import rows as model
from milestone_sheets.domain.drift import Past
from milestone_sheets.domain.fields import GOALS, MILESTONES, TASKS, TableSpec
from milestone_sheets.domain.grid import Book, SheetGrid
from milestone_sheets.domain.rows import Header, Record
from milestone_sheets.domain.status import STATUSES, Computed, StatusSettings, compute_all
from milestone_sheets.errors import StructureError


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
    warnings: list[str]
    goals: TableResult | None = None
    tasks: TableResult | None = None
    past: Past | None = None  # the source's history, when one is kept
    # The milestones by key as the history records them (with a history only).
    observed: dict[str, drift.Seen] = field(default_factory=dict)

    @property
    def tables(self) -> list[TableResult]:
        return [t for t in (self.milestones, self.goals, self.tasks) if t is not None]

    @property
    def problems(self) -> list[str]:
        """Every row problem with its cell, table by table."""
        return [line for table in self.tables for line in table.problem_lines()]


def _header_error(title: str, spec: TableSpec) -> StructureError:
    return StructureError(
        f"{title}: no header row found in the first {model.HEADER_SCAN_ROWS} rows "
        f"(need at least {model.MIN_HEADER_MATCHES} of: "
        f"{', '.join(f.aliases[0] for f in spec.fields)})"
    )


Found = tuple[SheetGrid, Header]  # a table's grid and its header row


def _locate(book: Book, settings: Settings) -> tuple[Found, Found | None, Found | None]:
    """Find the Milestones, Goals and Tasks tables, reading the sheets in one go."""
    titles = list(book.titles)
    by_fold = {title.strip().lower(): title for title in titles}
    if settings.worksheet and settings.worksheet.strip().lower() not in by_fold:
        raise StructureError(
            f"no worksheet named '{settings.worksheet}' (worksheets: {', '.join(titles)})"
        )
    preferred = settings.worksheet or book.preferred_title
    milestone_title = by_fold.get((preferred or MILESTONES.name).strip().lower())
    goal_title = by_fold.get(GOALS.name.lower())
    task_title = by_fold.get(TASKS.name.lower())
    wanted = [t for t in (milestone_title, goal_title, task_title) if t]
    if milestone_title is None:  # look for its header on every sheet: all read at once
        wanted = titles
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
            grid = grids[title]
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

    return found, optional(goal_title, GOALS), optional(task_title, TASKS)


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
) -> list[Record]:
    records = model.parse_rows(grid, header, MILESTONES, settings.date_order)
    model.check_dates(records, as_of)
    model.check_duplicates(records, MILESTONES, header)
    model.check_references(records, "goal", "Goal", goal_keys)
    model.order_problems(records, MILESTONES)
    return records


def _check(record: Record) -> str | None:
    return "; ".join(p.message for p in record.problems) or None


_SLIP = Computed._fields.index("slip_days")  # _replace would take twice as long


def evaluate(book: Book, settings: Settings, as_of: date, past: Past | None = None) -> Evaluation:
    """Evaluate a book's milestones, goals and tasks as of `as_of`; with the source's
    history (`past`), each milestone's Slip against its baseline too."""
    found, goals_found, tasks_found = _locate(book, settings)
    milestones, goals, tasks = _computed_tables(found, goals_found, tasks_found, settings, as_of)
    observed: dict[str, drift.Seen] = {}
    if past is not None:
        with_slip = []
        for record, computed in zip(milestones.records, milestones.computed, strict=True):
            seen = None if record.skipped else drift.seen_of(record, computed)
            if seen is not None:
                observed.setdefault(seen.key, seen)
                slip = drift.slip_days(seen, past.baselines)
                if slip is not None:
                    computed = Computed._make((*computed[:_SLIP], slip, *computed[_SLIP + 1 :]))
            with_slip.append(computed)
        milestones.computed = with_slip
    warnings = [w for table in (milestones, goals, tasks) if table for w in table.header.warnings]
    return Evaluation(as_of, milestones, warnings, goals, tasks, past, observed)


def _computed_tables(
    found: Found,
    goals_found: Found | None,
    tasks_found: Found | None,
    settings: Settings,
    as_of: date,
) -> tuple[TableResult, TableResult | None, TableResult | None]:
    """Milestones, goals and tasks parsed, checked and computed."""
    m_grid, m_header = found
    goal_records: list[Record] = []
    if goals_found:
        goal_records = model.parse_rows(*goals_found, GOALS, settings.date_order)
        model.check_duplicates(goal_records, GOALS, goals_found[1])
        g.check_goal_rows(goal_records)
        model.order_problems(goal_records, GOALS)
    goal_keys = _keys(goal_records) if goals_found else None
    records = _validated_milestones(m_grid, m_header, settings, as_of, goal_keys)

    task_progress: dict[int, float] = {}
    tasks: TableResult | None = None
    if tasks_found:
        task_records = model.parse_rows(*tasks_found, TASKS, settings.date_order)
        model.check_references(task_records, "milestone", "Milestone", _keys(records))
        by_key = _resolve(records)
        counts: dict[int, list[int]] = {}
        model.order_problems(task_records, TASKS)
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
        tasks = TableResult(TASKS, *tasks_found, task_records, task_results)

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
        goals = TableResult(GOALS, *goals_found, goal_records, goal_results)
    return milestones, goals, tasks


def summarize(
    results: Sequence[tuple[Record, Any]], order: Sequence[str] = STATUSES
) -> dict[str, int]:
    """Counts by status, in the given order, leaving out statuses with none."""
    counts = dict.fromkeys(order, 0)
    for _, computed in results:
        if computed.status:
            counts[computed.status] = counts.get(computed.status, 0) + 1
    return {status: count for status, count in counts.items() if count}
