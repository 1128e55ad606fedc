"""The spec's Status rules, table-driven, as of 2026-06-15."""

from datetime import date
from fractions import Fraction

import pytest

from milestone_sheets.domain.rows import Record
from milestone_sheets.domain.status import (
    Computed,
    StatusSettings,
    compute_milestone,
    earned_value,
    expected_share,
)

T = date(2026, 6, 15)
SETTINGS = StatusSettings()


def d(day: str) -> date:
    return date.fromisoformat(day)


def milestone(**values):
    base = {"due": d("2026-06-30"), "start": None, "completed": None, "progress": None,
            "budget": None, "actual": None}  # fmt: skip
    base.update(values)
    return base


@pytest.mark.parametrize(
    ("values", "status", "days_late"),
    [
        # 1. Completed given: Done on or before due, else Done late; days late = C - D.
        (milestone(completed=d("2026-06-30")), "Done", 0),
        (milestone(completed=d("2026-06-10")), "Done", -20),
        (milestone(due=d("2026-06-01"), completed=d("2026-06-04")), "Done late", 3),
        # Completion wins over overdue: done late, counted from due to completion.
        (milestone(due=d("2026-05-01"), completed=d("2026-06-14")), "Done late", 44),
        # 2. Past due and not completed: Overdue; days late = T - D.
        (milestone(due=d("2026-06-14")), "Overdue", 1),
        (milestone(due=d("2026-06-01"), progress=0.99), "Overdue", 14),
        # Due today is not overdue.
        (milestone(due=T), "On track", None),
        # 3. Not started: T before start.
        (milestone(start=d("2026-06-16")), "Not started", None),
        (milestone(start=d("2026-06-16"), actual=500, budget=100), "Not started", None),
        # 4. At risk: behind the straight line by more than 25 points, or over budget.
        # E = 50%: 25% progress is exactly 25 points behind (not more), 24% is.
        (milestone(start=d("2026-06-01"), due=d("2026-06-29"), progress=0.25), "On track", None),
        (milestone(start=d("2026-06-01"), due=d("2026-06-29"), progress=0.24), "At risk", None),
        (milestone(start=d("2026-06-01"), due=d("2026-06-21"), progress=0.4), "At risk", None),
        (milestone(budget=1000, actual=1000.01), "At risk", None),
        (milestone(budget=1000, actual=1000), "On track", None),
        # No progress given: not at risk on schedule grounds.
        (milestone(start=d("2026-06-01"), due=d("2026-06-21")), "On track", None),
        # Start given but progress not: fine; progress given but no start: fine.
        (milestone(progress=0.0), "On track", None),
    ],
)
def test_status_rules(values, status, days_late):
    result = compute_milestone(values, T, SETTINGS)
    assert (result.status, result.days_late) == (status, days_late)


def test_at_risk_boundary_is_strict_in_rounded_points():
    # E = 14/20 = 70.0%; 70.0 - 25 = 45.0: 45% is not behind, 44.9% is.
    values = milestone(start=d("2026-06-01"), due=d("2026-06-21"))
    assert compute_milestone({**values, "progress": 0.45}, T, SETTINGS).status == "On track"
    assert compute_milestone({**values, "progress": 0.449}, T, SETTINGS).status == "At risk"
    # 44.96% rounds to 45.0 points: not behind.
    assert compute_milestone({**values, "progress": 0.4496}, T, SETTINGS).status == "On track"


def test_at_risk_threshold_comes_from_settings():
    values = milestone(start=d("2026-06-01"), due=d("2026-06-21"), progress=0.6)  # E = 70%
    assert compute_milestone(values, T, SETTINGS).status == "On track"
    assert compute_milestone(values, T, StatusSettings(at_risk_behind=0.05)).status == "At risk"


@pytest.mark.parametrize(
    ("start", "due", "expected"),
    [
        ("2026-06-01", "2026-06-29", 50.0),
        ("2026-06-01", "2026-06-10", 100.0),  # clamped at 1
        ("2026-07-01", "2026-07-31", 0.0),  # clamped at 0
        ("2026-06-12", "2026-06-20", 37.5),
        ("2026-06-10", "2026-06-25", 33.3),
        ("2026-06-09", "2026-06-25", 37.5),
        ("2026-06-14", "2026-06-22", 12.5),  # 1/8 = 12.5 exactly
        ("2026-06-13", "2026-09-20", 2.0),  # 2/99 = 2.02 -> 2.0
    ],
)
def test_expected_progress_pct(start, due, expected):
    result = compute_milestone(milestone(start=d(start), due=d(due)), T, SETTINGS)
    assert result.expected_progress_pct == expected


def test_expected_progress_blank_without_start_or_with_due_not_after_start():
    assert compute_milestone(milestone(), T, SETTINGS).expected_progress_pct is None
    same_day = milestone(start=d("2026-06-30"), due=d("2026-06-30"))
    assert compute_milestone(same_day, T, SETTINGS).expected_progress_pct is None


def test_expected_progress_written_whatever_the_status():
    done = milestone(start=d("2026-05-01"), due=d("2026-05-31"), completed=d("2026-05-20"))
    assert compute_milestone(done, T, SETTINGS).expected_progress_pct == 100.0


def test_expected_progress_rounds_half_away_from_zero():
    # 1/16 = 6.25% -> 6.3
    values = milestone(start=d("2026-06-14"), due=d("2026-06-30"))
    assert compute_milestone(values, T, SETTINGS).expected_progress_pct == 6.3
    assert expected_share(d("2026-06-14"), d("2026-06-30"), T) == Fraction(1, 16)


@pytest.mark.parametrize(
    ("budget", "actual", "variance", "pct"),
    [
        (1000, 1250, 250.0, 25.0),
        (1000, 750, -250.0, -25.0),
        (3, 1, -2.0, -66.7),
        (0.1, 0.3, 0.2, 200.0),
        (12500.10, 12500.125, 0.03, 0.0),  # 0.025 -> 0.03
        (0, 50, 50.0, None),  # no % without a budget above 0
        (1000, None, None, None),
        (None, 500, None, None),
        (800, 802.5, 2.5, 0.3),  # 0.3125 -> 0.3
        (400, 401.8, 1.8, 0.5),  # 0.45 -> 0.5, half away from zero
    ],
)
def test_budget_variance(budget, actual, variance, pct):
    result = compute_milestone(milestone(budget=budget, actual=actual), T, SETTINGS)
    assert (result.budget_variance, result.budget_variance_pct) == (variance, pct)


def test_budget_variance_filled_for_done_milestones():
    values = milestone(completed=d("2026-06-01"), budget=100, actual=120)
    result = compute_milestone(values, T, SETTINGS)
    assert (result.status, result.budget_variance, result.budget_variance_pct) == (
        "Done",
        20.0,
        20.0,
    )


def test_task_progress_used_only_where_progress_is_blank():
    values = milestone(start=d("2026-06-01"), due=d("2026-06-21"))  # E = 70%
    assert compute_milestone(values, T, SETTINGS, task_progress=0.25).status == "At risk"
    with_own = {**values, "progress": 0.9}
    assert compute_milestone(with_own, T, SETTINGS, task_progress=0.0).status == "On track"


def test_earned_value():
    records = [
        Record(row=2, values=milestone(start=d("2026-06-01"), due=d("2026-06-29"), budget=1000,
                                       actual=600, progress=0.4)),  # E = 0.5
        Record(row=3, values=milestone(completed=d("2026-06-01"), budget=500, actual=450)),
        Record(row=4, values=milestone(), skipped=True),
    ]  # fmt: skip
    computed = [compute_milestone(r.values, T, SETTINGS) for r in records[:2]] + [Computed()]
    figures = earned_value(
        (r.values.get("budget"), r.values.get("actual"), c.progress, c.expected)
        for r, c in zip(records, computed, strict=True)
        if not r.skipped
    )
    # PV: 1000 x 0.5 (the done one has no start, so no E); EV: 400 + 500; AC: 1050.
    assert (figures.pv, figures.ev, figures.ac) == (500.0, 900.0, 1050.0)
    assert (figures.sv, figures.cv) == (400.0, -150.0)
    assert (figures.spi, figures.cpi) == (1.8, 0.86)
