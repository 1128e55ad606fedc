"""What `status` prints: rows as dicts, then a table, CSV or JSON."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Sequence
from datetime import date
from typing import Any

from milestone_sheets.domain.drift import Baseline, Change, Seen, slip_days
from milestone_sheets.domain.evaluate import TableResult
from milestone_sheets.domain.grid import cell_ref
from milestone_sheets.domain.rows import Record
from milestone_sheets.domain.status import Computed
from milestone_sheets.domain.values import folded

STATUS_KEYS = (
    "id", "row", "name", "owner", "email", "due", "status", "days_late", "slip_days",
    "budget_variance", "budget_variance_pct", "expected_progress_pct", "check",
)  # fmt: skip


def _due_value(record: Record) -> Any:
    due = record.values.get("due")
    return due.isoformat() if isinstance(due, date) else None


def status_row(record: Record, computed: Computed) -> dict[str, Any]:
    """One milestone as the json format has it: dates in ISO form, blanks as null."""
    return {
        "id": record.values.get("id"),
        "row": record.row,
        "name": record.values.get("name"),
        "owner": record.values.get("owner"),
        "email": record.values.get("email"),
        "due": _due_value(record),
        "status": computed.status,
        "days_late": computed.days_late,
        "slip_days": computed.slip_days,
        "budget_variance": computed.budget_variance,
        "budget_variance_pct": computed.budget_variance_pct,
        "expected_progress_pct": computed.expected_progress_pct,
        "check": computed.check,
    }


def status_rows(
    table: TableResult, owner: str | None = None, statuses: Sequence[str] = ()
) -> list[dict[str, Any]]:
    """Every milestone row (invalid ones included, skipped ones not), filtered; `owner`
    matches the owner's name or email, whatever the case and accents."""
    wanted_owner = folded(owner) if owner else None
    wanted_status = {s.strip().lower() for s in statuses}
    rows = []
    for record, computed in table.rows():
        row = status_row(record, computed)
        if wanted_owner and wanted_owner not in (folded(row["owner"]), folded(row["email"])):
            continue
        if wanted_status and (row["status"] or "").lower() not in wanted_status:
            continue
        rows.append(row)
    return rows


GOAL_KEYS = (
    "id", "row", "goal", "status", "milestones", "expected_to_date", "gap", "next_checkpoint", "check",
)  # fmt: skip


def goal_rows(table: TableResult | None) -> list[dict[str, Any]]:
    """One object per goal, as `status --goals` prints it."""
    if table is None:
        return []
    rows = []
    for record, result in table.rows():
        rows.append(
            {
                "id": record.values.get("id"),
                "row": record.row,
                "goal": record.values.get("name"),
                "status": result.status,
                "milestones": result.milestones,
                "expected_to_date": result.expected_to_date,
                "gap": result.gap,
                "next_checkpoint": result.next_checkpoint.isoformat()
                if result.next_checkpoint
                else None,
                "check": result.check,
            }
        )
    return rows


_GOAL_COLUMNS = (
    ("row", "Row", 4), ("id", "ID", 6), ("goal", "Goal", 36), ("status", "Status", 9),
    ("milestones", "Milestones", 10), ("expected_to_date", "Expected", 12), ("gap", "Gap", 12),
    ("next_checkpoint", "Next", 10), ("check", "Check", 40),
)  # fmt: skip


def to_json(rows: Any) -> str:
    return json.dumps(rows, indent=2, ensure_ascii=False)


_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(value: Any) -> Any:
    """A cell a spreadsheet opening the CSV will not run as a formula: text that begins
    like one gets a leading apostrophe (numbers stay numbers)."""
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


def to_csv(rows: Iterable[dict[str, Any]], keys: Sequence[str] = STATUS_KEYS) -> str:
    """CSV with a header row; text cells neutralised against formula injection."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=keys, lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
    writer.writeheader()
    for row in rows:
        writer.writerow({key: csv_safe(value) for key, value in row.items()})
    return buffer.getvalue()


_TABLE_COLUMNS = (
    ("row", "Row", 4), ("id", "ID", 6), ("name", "Milestone", 30), ("owner", "Owner", 16),
    ("due", "Due", 10), ("status", "Status", 11), ("days_late", "Late", 5),
    ("budget_variance", "Variance", 10), ("check", "Check", 40),
)  # fmt: skip


def _cell(value: Any, width: int) -> str:
    text = "" if value is None else str(value)
    if isinstance(value, float):
        text = f"{value:,.2f}" if not value.is_integer() else f"{value:,.0f}"
    return text if len(text) <= width else text[: width - 1] + "…"


def to_table(
    rows: Sequence[dict[str, Any]], columns: Sequence[tuple[str, str, int]] = _TABLE_COLUMNS
) -> str:
    """A fixed-width table for a terminal."""
    lines = ["  ".join(title.ljust(width) for _, title, width in columns).rstrip()]
    for row in rows:
        cells = [_cell(row[key], width).ljust(width) for key, _, width in columns]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def goals_table(rows: Sequence[dict[str, Any]]) -> str:
    return to_table(rows, _GOAL_COLUMNS)


def summary_line(counts: dict[str, int]) -> str:
    """`12 milestones: 3 On track, 1 Overdue, ...`"""
    total = sum(counts.values())
    parts = ", ".join(f"{count} {status}" for status, count in counts.items())
    return f"{total} milestone{'s' if total != 1 else ''}: {parts}" if total else "no milestones"


def _plain(value: Any) -> Any:
    """A stored value as json has it: dates in ISO form."""
    return value.isoformat() if isinstance(value, date) else value


def history_rows(changes: Iterable[Change]) -> list[dict[str, Any]]:
    """One object per change, as `history --format json` prints it."""
    return [
        {"id": change.milestone.id or None, "name": change.milestone.name,
         "field": change.field, "old": _plain(change.old), "new": _plain(change.new),
         "seen": change.seen.isoformat()}
        for change in changes
    ]  # fmt: skip


_HISTORY_COLUMNS = (
    ("seen", "Seen", 10), ("id", "ID", 6), ("name", "Milestone", 30), ("field", "Field", 6),
    ("old", "From", 12), ("new", "To", 12),
)  # fmt: skip


def history_table(rows: Sequence[dict[str, Any]]) -> str:
    shown = [{**row, "old": "(new)" if row["old"] is None and row["field"] == "status"
              else row["old"]} for row in rows]  # fmt: skip
    return to_table(shown, _HISTORY_COLUMNS)


def baseline_rows(rows: Iterable[tuple[Seen, Baseline | None]]) -> list[dict[str, Any]]:
    """Each milestone's baseline against the plan now, as `baseline` prints it."""
    return [
        {"id": seen.id or None, "name": seen.name,
         "baseline_due": _plain(base.due) if base else None, "due": _plain(seen.due),
         "slip_days": slip_days(seen, {seen.key: base} if base else {}),
         "baseline_budget": base.budget if base else None, "budget": seen.budget,
         "set_on": base.set_on.isoformat() if base else None}
        for seen, base in rows
    ]  # fmt: skip


_BASELINE_COLUMNS = (
    ("id", "ID", 6), ("name", "Milestone", 30), ("baseline_due", "Baseline", 10),
    ("due", "Due", 10), ("slip_days", "Slip", 5), ("baseline_budget", "Base budget", 11),
    ("budget", "Budget", 11), ("set_on", "Set on", 10),
)  # fmt: skip


def baselines_table(rows: Sequence[dict[str, Any]]) -> str:
    return to_table(rows, _BASELINE_COLUMNS)


def change_lines(evaluation: Any, writes: Sequence[Any]) -> list[str]:
    """Each cell a sync would write, in the sheet's own terms: the milestone (ID, else
    name), the column, the old and the new value, and the cell."""
    names: dict[tuple[str, int], str] = {}
    keys: dict[tuple[str, int], str] = {}
    for table in evaluation.tables:
        for name, col in table.header.computed.items():
            names[(table.sheet, col)] = name
        for record in table.records:
            key = record.values.get("id") or record.values.get("name")
            keys[(table.sheet, record.row - 1)] = str(key) if key else f"row {record.row}"
    lines = []
    for write in writes:
        cell = f"{write.sheet}!{cell_ref(write.row, write.col)}"
        if write.style_like is not None:  # a new column's header cell
            names[(write.sheet, write.col)] = str(write.value)
            lines.append(f"{cell}: new column {write.value!r}")
            continue
        column = names.get((write.sheet, write.col), cell_ref(write.row, write.col))
        what = keys.get((write.sheet, write.row), f"row {write.row + 1}")
        old = "(blank)" if write.old in (None, "") else _shown(write.old)
        new = "(blank)" if write.value in (None, "") else _shown(write.value)
        lines.append(f"{what} {column}: {old} -> {new} ({cell})")
    return lines


def _shown(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
