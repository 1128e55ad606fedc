"""Goals, checkpoints and tasks, per the spec; and the whole hierarchy on a real workbook."""

from __future__ import annotations

import json
from datetime import date

import openpyxl
import pytest
from workbooks import write_xlsx

from milestone_sheets.cli import main
from milestone_sheets.domain.goals import checkpoints, compute_goal, task_status

T = date(2026, 6, 15)


def test_seed_example_weekly_checkpoints_of_a_monthly_target():
    points = checkpoints(date(2026, 2, 1), date(2026, 3, 1), 100_000, 7)  # a 28-day month
    assert [(p.day.isoformat(), p.expected) for p in points] == [
        ("2026-02-08", 25_000), ("2026-02-15", 50_000), ("2026-02-22", 75_000), ("2026-03-01", 100_000),
    ]  # fmt: skip


def test_checkpoints_end_on_due_when_the_span_is_not_whole_weeks():
    points = checkpoints(date(2026, 6, 1), date(2026, 6, 11), 1000, 7)
    assert [(p.day.day, p.expected) for p in points] == [(8, 700), (11, 1000)]


def goal(**values):
    base = {
        "start": date(2026, 6, 1),
        "due": date(2026, 6, 29),
        "target": 100_000,
        "actual": None,
        "pacing": None,
    }
    base.update(values)
    return base


@pytest.mark.parametrize(
    ("values", "as_of", "status", "expected", "gap", "next_checkpoint"),
    [
        # Expected to date is the latest checkpoint on or before T: 06-15 -> 50,000.
        (goal(actual=50_000), T, "On track", 50_000, 0, date(2026, 6, 22)),
        (goal(actual=49_999), T, "Behind", 50_000, -1, date(2026, 6, 22)),
        (goal(actual=60_000), date(2026, 6, 14), "On track", 25_000, 35_000, date(2026, 6, 15)),
        # 0 before the first checkpoint.
        (goal(actual=0), date(2026, 6, 3), "On track", 0, 0, date(2026, 6, 8)),
        (goal(actual=100_000), T, "Met", 50_000, 50_000, date(2026, 6, 22)),
        (goal(actual=99_000), date(2026, 6, 30), "Missed", 100_000, -1000, None),
        # No actual yet: counts as nothing achieved, the gap stays blank.
        (goal(), T, "Behind", 50_000, None, date(2026, 6, 22)),
        # A gate has no checkpoints and is never Behind.
        (goal(pacing="gate", target=1, actual=0), T, "On track", None, None, None),
        (goal(pacing="Gate", target=3, actual=3), T, "Met", None, None, None),
        (goal(pacing="gate", target=1, actual=0), date(2026, 7, 1), "Missed", None, None, None),
    ],
)
def test_goal_status(values, as_of, status, expected, gap, next_checkpoint):
    result = compute_goal(values, as_of, 7, [])
    assert (result.status, result.expected_to_date, result.gap, result.next_checkpoint) == (
        status, expected, gap, next_checkpoint,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("statuses", "status", "count"),
    [
        (["Done", "Done late"], "Done", "2/2 done"),
        (["Done", "Overdue"], "At risk", "1/2 done"),
        (["On track", "At risk"], "At risk", "0/2 done"),
        (["On track", "Not started", "Done"], "On track", "1/3 done"),
        ([], "On track", "0/0 done"),
    ],
)
def test_goal_without_target_takes_its_status_from_its_milestones(statuses, status, count):
    result = compute_goal(goal(target=None), T, 7, statuses)
    assert (result.status, result.milestones) == (status, count)


@pytest.mark.parametrize(
    ("done", "due", "status"),
    [(True, date(2026, 6, 1), "Done"), (date(2026, 6, 2), None, "Done"), (False, date(2026, 6, 14), "Overdue"),
     (None, T, "Open"), (False, None, "Open")],
)  # fmt: skip
def test_task_status(done, due, status):
    assert task_status({"done": done, "due": due}, T) == status


def plan(tmp_path):
    milestones = [
        ["ID", "Milestone", "Owner", "Goal", "Start", "Due", "Progress"],
        [
            "M1",
            "Launch",
            "Ana",
            "G1",
            date(2026, 6, 1),
            date(2026, 6, 29),
            None,
        ],  # progress from tasks
        ["M2", "Hire", "Ben", "Revenue", date(2026, 6, 1), date(2026, 6, 10), 0.5],  # goal by name
        ["M3", "Pilot", "Cleo", "G9", date(2026, 6, 1), date(2026, 7, 1), 0.5],
        ["M4", "Site", "Dev", "G1", date(2026, 5, 1), date(2026, 5, 30), None],
    ]
    goals = [
        ["ID", "Goal", "Owner", "Start", "Due", "Target", "Actual", "Pacing"],
        ["G1", "Revenue", "Ana", date(2026, 6, 1), date(2026, 6, 29), 100_000, 40_000, "paced"],
        ["G2", "Approval", "Emma", date(2026, 6, 1), date(2026, 9, 1), 1, 0, "gate"],
        ["G3", "Broken", "Emma", None, date(2026, 9, 1), 10, 0, "sometimes"],
    ]
    tasks = [
        ["Milestone", "Task", "Owner", "Due", "Done"],
        ["M1", "Spec", "Ana", date(2026, 6, 5), "yes"],
        ["m1", "Build", "Ana", date(2026, 6, 14), "no"],
        ["Launch", "Ship", "Ana", date(2026, 6, 28), None],
        ["Launch", "Announce", "Ana", date(2026, 6, 28), "FALSE"],
        ["M99", "Lost", "Ana", date(2026, 6, 28), "no"],
    ]
    return write_xlsx(
        tmp_path / "plan.xlsx", {"Milestones": milestones, "Goals": goals, "Tasks": tasks}
    )


def test_hierarchy_on_a_workbook(runner, tmp_path):
    path = plan(tmp_path)
    result = runner.invoke(main, ["sync", str(path), "--as-of", "2026-06-15"])
    assert result.exit_code == 1, result.output
    assert "Milestones!D4: Goal 'G9' not found" in result.output
    assert "Tasks!A6: Milestone 'M99' not found" in result.output
    assert "Goals!H4: Pacing 'sometimes' is not paced or gate" in result.output
    wb = openpyxl.load_workbook(path)
    m = {row[0]: row for row in wb["Milestones"].iter_rows(min_row=2, values_only=True)}
    # M1: 1 of 4 tasks done = 25% < 50% - 25%? No: 25.0 is not below 25.0, so On track.
    assert m["M1"][7] == "On track"
    assert m["M2"][7] == "Overdue"
    assert m["M3"][7] == "Invalid"
    goals = {row[0]: row for row in wb["Goals"].iter_rows(min_row=2, values_only=True)}
    assert goals["G1"][8:] == ("Behind", "0/3 done", 50000, -10000, "2026-06-22", None)
    assert goals["G2"][8:] == ("On track", "0/0 done", None, None, None, None)
    assert goals["G3"][8] == "Invalid"
    tasks = [row[5:] for row in wb["Tasks"].iter_rows(min_row=2, values_only=True)]
    assert tasks == [("Done", None), ("Overdue", None), ("Open", None), ("Open", None),
                     ("Invalid", "Milestone 'M99' not found")]  # fmt: skip


def test_progress_from_tasks_can_make_a_milestone_at_risk(runner, tmp_path):
    path = plan(tmp_path)
    result = runner.invoke(main, ["status", str(path), "--as-of", "2026-06-22", "--format", "json"])
    rows = {row["id"]: row for row in json.loads(result.stdout)}
    # As of 06-22, E = 75%; tasks give 25%: 50 points behind.
    assert rows["M1"]["status"] == "At risk"


def test_status_goals_json(runner, tmp_path):
    path = plan(tmp_path)
    result = runner.invoke(
        main, ["status", str(path), "--as-of", "2026-06-15", "--format", "json", "--goals"]
    )
    data = json.loads(result.stdout)
    assert set(data) == {"milestones", "goals"}
    assert len(data["milestones"]) == 4
    first = data["goals"][0]
    assert first == {"id": "G1", "row": 2, "goal": "Revenue", "status": "Behind", "milestones": "0/3 done",
                     "expected_to_date": 50000, "gap": -10000, "next_checkpoint": "2026-06-22", "check": None}  # fmt: skip
    assert data["goals"][2]["check"] == "Pacing 'sometimes' is not paced or gate"
    table = runner.invoke(main, ["status", str(path), "--as-of", "2026-06-15", "--goals"])
    assert "Revenue" in table.output and "Behind" in table.output
