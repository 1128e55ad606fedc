"""The status engine: parsed milestone rows and an as-of date in, computed columns out.

Pure: it never reads the clock or a file. Every rule here is the spec's Status section.
Rounding is half away from zero on the decimal values a person typed: exact integer
arithmetic for day ratios, and floats with an exact decimal fallback near a half.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from fractions import Fraction
from functools import cached_property
from typing import Any, NamedTuple

from milestone_sheets.domain.rows import Record
from milestone_sheets.domain.values import (
    amount,
    format_number,
    round_float,
    round_half_away,
    to_decimal,
)

DONE = "Done"
DONE_LATE = "Done late"
OVERDUE = "Overdue"
NOT_STARTED = "Not started"
AT_RISK = "At risk"
ON_TRACK = "On track"
INVALID = "Invalid"
STATUSES = (DONE, DONE_LATE, OVERDUE, AT_RISK, ON_TRACK, NOT_STARTED, INVALID)
FINISHED = frozenset({DONE, DONE_LATE})


@dataclass(frozen=True)
class StatusSettings:
    """Thresholds from the config's [status] table."""

    at_risk_behind: float = 0.25
    checkpoint_days: int = 7

    @cached_property
    def at_risk_tenths(self) -> int:
        """The at-risk threshold in tenths of a percentage point (worked out once)."""
        return _progress_tenths(self.at_risk_behind)


class Computed(NamedTuple):
    """The computed columns of one row (None is a blank cell), plus figures for reports."""

    status: str | None = None
    days_late: int | None = None
    budget_variance: float | None = None
    budget_variance_pct: float | None = None
    expected_progress_pct: float | None = None
    check: str | None = None
    slip_days: int | None = None  # Due against the baseline (only with a history)
    progress: float | None = None  # the progress used: given, from tasks, or 1 when done
    expected: tuple[int, int] | None = None  # E as (elapsed days, total days)

    def column_values(self) -> dict[str, Any]:
        """Values by the computed column headers of the Milestones sheet."""
        return {
            "Status": self.status,
            "Days late": self.days_late,
            "Slip (days)": self.slip_days,
            "Budget variance": self.budget_variance,
            "Budget variance %": self.budget_variance_pct,
            "Expected progress %": self.expected_progress_pct,
            "Check": self.check,
        }


SKIPPED = Computed()


def expected_days(start: date | None, due: date | None, as_of: date) -> tuple[int, int] | None:
    """E as (elapsed days clamped to 0..total, total days); None unless S given and D > S."""
    if start is None or due is None or due <= start:
        return None
    total = (due - start).days
    elapsed = (as_of - start).days
    return (0 if elapsed < 0 else total if elapsed > total else elapsed), total


def expected_share(start: date | None, due: date | None, as_of: date) -> Fraction | None:
    """E = clamp((T - S) / (D - S), 0, 1); None unless S is given and D > S."""
    days = expected_days(start, due, as_of)
    return None if days is None else Fraction(*days)


def _tenths_of_percent(elapsed: int, total: int) -> int:
    """elapsed / total x 100 in tenths, rounded half away from zero, exactly (both >= 0)."""
    return (2000 * elapsed + total) // (2 * total)


def _progress_tenths(progress: float) -> int:
    """A fraction as tenths of a percentage point, rounded half away from zero."""
    rounded = round_float(progress * 100, 1)
    if rounded is None:
        rounded = round_half_away(to_decimal(progress) * 100, 1)
    return round(rounded * 10)


def budget_variances(
    budget: float | None, actual: float | None
) -> tuple[float | None, float | None]:
    """(actual - budget to 2 decimals, the same as % of budget to 1 decimal)."""
    if budget is None or actual is None:
        return None, None
    variance = round_float(actual - budget, 2)
    if variance is None:
        variance = round_half_away(to_decimal(actual) - to_decimal(budget), 2)
    if budget <= 0:
        return variance, None
    percent = round_float((actual - budget) * 100 / budget, 1)
    if percent is None:
        exact = (to_decimal(actual) - to_decimal(budget)) * 100 / to_decimal(budget)
        percent = round_half_away(exact, 1)
    return variance, percent


def compute_milestone(
    values: Mapping[str, Any],
    as_of: date,
    settings: StatusSettings,
    task_progress: float | None = None,
) -> Computed:
    """Status and variances of one valid milestone as of `as_of`."""
    inputs = tuple(values.get(key) for key in INPUTS)
    return _compute(inputs, as_of, settings, task_progress)  # type: ignore[arg-type]


# The fields the engine reads, in the order `_compute` takes them.
INPUTS = ("due", "start", "completed", "progress", "budget", "actual")
_Inputs = tuple[date, "date | None", "date | None", "float | None", "float | None", "float | None"]


def _compute(
    inputs: _Inputs, as_of: date, settings: StatusSettings, task_progress: float | None
) -> Computed:
    due, start, completed, progress, budget, actual = inputs
    if progress is None:
        progress = task_progress
    variance, variance_pct = budget_variances(budget, actual)
    days = expected_days(start, due, as_of)
    expected_tenths = _tenths_of_percent(*days) if days else None
    days_late: int | None = None
    reasons: list[str] = []
    if completed is not None:
        status = DONE if completed <= due else DONE_LATE
        days_late = (completed - due).days
        progress = 1.0
        if status == DONE_LATE:
            reasons.append(
                f"done {completed.isoformat()}, {days_text(days_late)} after the due date"
            )
    elif as_of > due:
        status = OVERDUE
        days_late = (as_of - due).days
        reasons.append(f"due {due.isoformat()}, {days_text(days_late)} late")
    elif start is not None and as_of < start:
        status = NOT_STARTED
    else:
        # "P < E - at_risk_behind", strict, in percentage points rounded to one decimal.
        behind = (
            expected_tenths is not None
            and progress is not None
            and _progress_tenths(progress) < expected_tenths - settings.at_risk_tenths
        )
        over_budget = budget is not None and actual is not None and actual > budget
        status = AT_RISK if behind or over_budget else ON_TRACK
        if behind:
            assert progress is not None and expected_tenths is not None
            reasons.append(f"{_percent(_progress_tenths(progress))} done, "
                           f"{_percent(expected_tenths)} expected by now")  # fmt: skip
        elif progress is None and expected_tenths:
            reasons.append(f"progress unknown, {_percent(expected_tenths)} expected by now")
    if variance is not None and variance > 0:
        share = f" ({format_number(variance_pct)}%)" if variance_pct is not None else ""
        reasons.append(f"over budget by {amount(variance)}{share}")
    return Computed(
        status=status,
        days_late=days_late,
        budget_variance=variance,
        budget_variance_pct=variance_pct,
        expected_progress_pct=expected_tenths / 10 if expected_tenths is not None else None,
        check="; ".join(reasons) or None,
        progress=progress,
        expected=days,
    )


def extra_reasons(computed: Computed) -> str:
    """The Check text past what the status and due date already say: for an Overdue or
    Done late row its first reason (the dates) is left out."""
    parts = (computed.check or "").split("; ") if computed.status != INVALID else []
    if computed.status in (OVERDUE, DONE_LATE):
        parts = parts[1:]
    return "; ".join(part for part in parts if part)


def days_text(count: int) -> str:
    """1 day, 5 days (a count of days as a sentence has it)."""
    return "1 day" if abs(count) == 1 else f"{abs(count)} days"


def _percent(tenths: int) -> str:
    """Tenths of a percentage point as a person reads them: 33%, 12.5%."""
    return f"{tenths // 10}%" if tenths % 10 == 0 else f"{tenths / 10:.1f}%"


def compute_all(
    records: Sequence[Record],
    as_of: date,
    settings: StatusSettings,
    task_progress: Mapping[int, float] | None = None,
) -> list[Computed]:
    """Computed columns for every record: blank for skipped rows, Invalid with Check for bad ones.

    `task_progress` maps a record's sheet row to done tasks / tasks, used where the
    milestone's own Progress is blank.
    """
    task_progress = task_progress or {}
    results = []
    for record in records:
        if record.skipped:
            results.append(SKIPPED)
        elif record.problems:
            check = "; ".join(problem.message for problem in record.problems)
            results.append(Computed(status=INVALID, check=check))
        else:
            progress = task_progress.get(record.row)
            results.append(compute_milestone(record.values, as_of, settings, progress))
    return results


@dataclass(frozen=True)
class EarnedValue:
    """Plan-level earned-value figures; ratios are None where their divisor is 0."""

    pv: float
    ev: float
    ac: float
    sv: float
    cv: float
    spi: float | None
    cpi: float | None


def earned_value(
    items: Iterable[tuple[float | None, float | None, float | None, tuple[int, int] | None]],
) -> EarnedValue:
    """PV = sum B x E, EV = sum B x P, AC = sum A, over (budget B, actual A, progress P,
    E as (elapsed days, total days)) of each valid milestone."""
    pv = ev = ac = Decimal(0)
    for budget, actual, progress, expected in items:
        if budget is not None:
            budget_dec = to_decimal(budget)
            if expected is not None:
                elapsed, total = expected
                pv += budget_dec * elapsed / total
            if progress is not None:
                ev += budget_dec * to_decimal(progress)
        if actual is not None:
            ac += to_decimal(actual)
    return EarnedValue(
        pv=round_half_away(pv, 2),
        ev=round_half_away(ev, 2),
        ac=round_half_away(ac, 2),
        sv=round_half_away(ev - pv, 2),
        cv=round_half_away(ev - ac, 2),
        spi=round_half_away(ev / pv, 2) if pv else None,
        cpi=round_half_away(ev / ac, 2) if ac else None,
    )
