"""Goals with their checkpoints, and tasks: the levels above and below milestones.

Pure functions, like the engine: parsed rows and a date in, computed values out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from milestone_sheets.domain.rows import Problem, Record
from milestone_sheets.domain.status import AT_RISK, DONE, FINISHED, INVALID, ON_TRACK, OVERDUE
from milestone_sheets.domain.values import round_half_away, to_decimal

MET = "Met"
MISSED = "Missed"
BEHIND = "Behind"
OPEN = "Open"
GOAL_STATUSES = (MET, ON_TRACK, BEHIND, MISSED, DONE, AT_RISK, INVALID)
PACINGS = ("paced", "gate")


@dataclass(frozen=True)
class Checkpoint:
    """A date on a paced goal's path and the value due by then."""

    day: date
    expected: float


@dataclass(frozen=True)
class GoalResult:
    """A goal's computed columns (None is a blank cell) and its checkpoints for charts."""

    status: str | None = None
    milestones: str | None = None
    expected_to_date: float | None = None
    gap: float | None = None
    next_checkpoint: date | None = None
    check: str | None = None
    checkpoints: tuple[Checkpoint, ...] = ()

    def column_values(self) -> dict[str, Any]:
        return {
            "Status": self.status,
            "Milestones": self.milestones,
            "Expected to date": self.expected_to_date,
            "Gap": self.gap,
            "Next checkpoint": self.next_checkpoint,
            "Check": self.check,
        }


@dataclass(frozen=True)
class TaskResult:
    status: str | None = None
    check: str | None = None

    def column_values(self) -> dict[str, Any]:
        return {"Status": self.status, "Check": self.check}


def checkpoints(start: date, due: date, target: float, every_days: int) -> list[Checkpoint]:
    """Every `every_days` from start, and on due; each due Target x elapsed share."""
    total = (due - start).days
    if total <= 0:
        return [Checkpoint(due, target)]
    days = list(range(every_days, total, every_days)) + [total]
    target_dec = to_decimal(target)
    return [
        Checkpoint(start + timedelta(days=day), round_half_away(target_dec * day / total, 2))
        for day in days
    ]


def pacing_of(values: Mapping[str, Any]) -> str:
    return (values.get("pacing") or "paced").strip().lower()


def check_goal_rows(records: Sequence[Record]) -> None:
    """Goal-specific problems: an unknown pacing, a paced target without a start."""
    for record in records:
        if record.skipped:
            continue
        pacing = pacing_of(record.values)
        if pacing not in PACINGS:
            record.add(
                Problem(f"Pacing '{record.values.get('pacing')}' is not paced or gate", "pacing")
            )
        elif pacing == "paced" and record.values.get("target") is not None:
            if record.values.get("start") is None and record.values.get("due") is not None:
                record.add(Problem("Start is missing (a paced goal needs it)", "start"))


def compute_goal(
    values: Mapping[str, Any],
    as_of: date,
    checkpoint_days: int,
    milestone_statuses: Sequence[str],
) -> GoalResult:
    """Status, milestone count, expected to date, gap and next checkpoint of a valid goal."""
    done = sum(1 for status in milestone_statuses if status in FINISHED)
    count = f"{done}/{len(milestone_statuses)} done"
    target, actual = values.get("target"), values.get("actual")
    start, due = values.get("start"), values["due"]
    if target is None:
        if milestone_statuses and done == len(milestone_statuses):
            status = DONE
        elif any(s in (OVERDUE, AT_RISK) for s in milestone_statuses):
            status = AT_RISK
        else:
            status = ON_TRACK
        return GoalResult(status=status, milestones=count)
    if pacing_of(values) == "gate":
        met = actual is not None and actual >= target
        status = MET if met else (MISSED if as_of > due else ON_TRACK)
        return GoalResult(status=status, milestones=count)
    assert start is not None, "check_goal_rows makes a paced goal without a start invalid"
    points = checkpoints(start, due, target, checkpoint_days)
    reached = [point for point in points if point.day <= as_of]
    expected = reached[-1].expected if reached else 0.0
    upcoming = [point.day for point in points if point.day > as_of]
    gap = None
    if actual is not None:
        gap = round_half_away(to_decimal(actual) - Decimal(repr(expected)), 2)
    progress = actual if actual is not None else 0.0
    if progress >= target:
        status = MET
    elif as_of > due:
        status = MISSED
    elif progress < expected:
        status = BEHIND
    else:
        status = ON_TRACK
    return GoalResult(
        status=status,
        milestones=count,
        expected_to_date=expected,
        gap=gap,
        next_checkpoint=upcoming[0] if upcoming else None,
        checkpoints=tuple(points),
    )


def task_status(values: Mapping[str, Any], as_of: date) -> str:
    """Done; else Overdue when due before T; else Open."""
    done = values.get("done")
    if done is True or isinstance(done, date):
        return DONE
    due = values.get("due")
    return OVERDUE if due is not None and due < as_of else OPEN


def is_task_done(values: Mapping[str, Any]) -> bool:
    return task_status(values, date.min) == DONE
