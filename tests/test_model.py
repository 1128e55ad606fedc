"""Headers, row parsing and validation: pure functions over plain rows."""

from datetime import date

import pytest

from milestone_sheets.changes import plan_writes
from milestone_sheets.domain.evaluate import Settings, evaluate_table
from milestone_sheets.domain.fields import MILESTONES
from milestone_sheets.domain.grid import SheetGrid, column_index, column_letter
from milestone_sheets.domain.rows import find_header
from milestone_sheets.domain.status import StatusSettings

T = date(2026, 6, 15)


def grid(rows, formulas=(), uncached=()):
    return SheetGrid("Milestones", rows, frozenset(formulas), frozenset(uncached))


def evaluate(rows, **settings):
    g = grid(rows)
    header = find_header(g, MILESTONES, settings.get("columns"))
    assert header is not None
    return evaluate_table(g, header, MILESTONES, Settings(**settings), T)


def checks(table):
    return {
        r.row: c.check for r, c in zip(table.records, table.computed, strict=True) if not r.skipped
    }


@pytest.mark.parametrize(
    ("index", "letters"), [(0, "A"), (25, "Z"), (26, "AA"), (701, "ZZ"), (702, "AAA")]
)
def test_column_letters(index, letters):
    assert column_letter(index) == letters
    assert column_index(letters) == index


def test_header_below_a_title_row_with_messy_spelling():
    rows = [
        ["Company plan 2026"],
        [],
        ["  milestone NAME* ", "Person responsible:", "DEADLINE", "Notes", "status"],
        ["Launch", "Ana", "2026-07-01", "x", None],
    ]
    header = find_header(grid(rows), MILESTONES)
    assert header is not None
    assert header.row == 2
    assert header.fields == {"name": 0, "owner": 1, "due": 2}
    assert header.computed == {"Status": 4}
    assert header.last_used_col == 4


def test_header_needs_three_field_headers_in_the_first_ten_rows():
    assert find_header(grid([["Name", "Owner", "Notes", "Status", "Check"]]), MILESTONES) is None
    late = [[]] * 10 + [["Name", "Owner", "Due"]]
    assert find_header(grid(late), MILESTONES) is None
    assert find_header(grid([[]] * 9 + [["Name", "Owner", "Due"]]), MILESTONES).row == 9


def test_two_columns_for_one_field_leftmost_wins_with_a_warning():
    header = find_header(grid([["Name", "Owner", "Due", "Deadline"]]), MILESTONES)
    assert header.fields["due"] == 2
    assert len(header.warnings) == 1
    assert "'Deadline'" in header.warnings[0] and "'Due'" in header.warnings[0]


def test_config_columns_map_a_field_to_another_header():
    rows = [["Name", "Boss", "Due", "Owner"]]
    header = find_header(grid(rows), MILESTONES, {"owner": "Boss"})
    assert header.fields["owner"] == 1


def test_blank_rows_and_summary_rows_are_skipped_and_their_computed_cells_cleared():
    rows = [
        ["Name", "Owner", "Due", "Budget", "Notes", "Status"],
        ["Launch", "Ana", "2026-07-01", 100, "", "On track"],
        [None, "", "n/a", None, "only a note", "Overdue"],
        ["Total:", None, None, 100, "", "Done"],  # a status an older sync left,
        ["Sum", "Ana", None, 100, "", None],  # has an owner: a real (invalid) row
    ]
    table = evaluate(rows)
    assert [r.skipped for r in table.records] == [False, True, True, False]
    writes, _ = plan_writes(table)
    cleared = {(w.row, w.col): w.value for w in writes if w.col == 5}
    assert cleared[(2, 5)] is None
    assert cleared[(3, 5)] is None
    assert table.computed[3].status == "Invalid"
    assert table.computed[3].check == "Due is missing"


def test_validation_messages_in_column_order():
    rows = [
        ["ID", "Name", "Owner", "Email", "Start", "Due", "Completed", "Budget", "Progress"],
        ["M1", "A", "Ana", "ana@example.com", "2026-05-01", "2026-04-01", None, None, None],
        ["M2", "B", "Ana", "x", None, "2026-07-01", "2026-07-01", "lots", 150],
        ["M3", "C", None, None, None, "next friday", None, None, None],
        ["M4", None, "Ben", None, None, "2026-07-01", None, "-500", None],
    ]
    assert checks(evaluate(rows)) == {
        2: "Start 2026-05-01 is after Due 2026-04-01",
        3: "Email 'x' is not an email address; Completed 2026-07-01 is in the future; "
        "Budget 'lots' is not an amount; Progress 150 is outside 0..100%",
        4: "Owner is missing; Due 'next friday' is not a date",
        5: "Name is missing; Budget -500 is negative",
    }


def test_problem_lines_name_the_cell():
    rows = [
        ["Title row"],
        ["ID", "Name", "Owner", "Due"],
        ["M1", "A", "Ana", "next friday"],
        ["M2", "B", None, "2026-07-01"],
    ]
    assert evaluate(rows).problem_lines() == [
        "Milestones!D3: Due 'next friday' is not a date",
        "Milestones!C4: Owner is missing",
    ]


def test_duplicate_ids_invalidate_every_row_sharing_one():
    rows = [
        ["ID", "Name", "Owner", "Due"],
        ["M7", "A", "Ana", "2026-07-01"],
        ["M8", "B", "Ana", "2026-07-01"],
        [" m7 ", "C", "Ana", "bad"],  # invalid rows count too
        ["M9", "D", "Ana", "2026-07-01"],
    ]
    table = evaluate(rows)
    assert checks(table)[2] == "Duplicate ID M7 (rows 2, 4)"
    assert checks(table)[4] == "Duplicate ID M7 (rows 2, 4); Due 'bad' is not a date"
    assert checks(table)[3] is None
    assert table.problem_lines()[0] == "Milestones!A2: Duplicate ID M7 (rows 2, 4)"


def test_duplicate_names_where_there_is_no_id_column():
    rows = [
        ["Name", "Owner", "Due"],
        ["Launch", "Ana", "2026-07-01"],
        ["launch", "Ben", "2026-08-01"],
    ]
    assert checks(evaluate(rows)) == {
        2: "Duplicate name Launch (rows 2, 3)",
        3: "Duplicate name Launch (rows 2, 3)",
    }


def test_invalid_rows_get_only_status_and_check():
    rows = [["Name", "Owner", "Start", "Due", "Budget", "Actual"],
            ["A", None, "2026-06-01", "2026-06-10", 100, 200]]  # fmt: skip
    computed = evaluate(rows).computed[0]
    assert computed.column_values() == {
        "Status": "Invalid", "Days late": None, "Slip (days)": None, "Budget variance": None,
        "Budget variance %": None, "Expected progress %": None, "Check": "Owner is missing",
    }  # fmt: skip


def test_formula_without_a_saved_value_is_a_problem_naming_the_cell():
    rows = [["Name", "Owner", "Due", "Budget"], ["A", "Ana", "2026-07-01", None]]
    g = grid(rows, formulas={(1, 3)}, uncached={(1, 3)})
    header = find_header(g, MILESTONES)
    table = evaluate_table(g, header, MILESTONES, Settings(), T)
    assert table.problem_lines() == ["Milestones!D2: Budget is a formula with no saved value"]


def test_formula_in_a_computed_column_is_kept_and_reported():
    rows = [["Name", "Owner", "Due", "Status", "Check"], ["A", "Ana", "2026-06-01", "=x", "old"]]
    g = grid(rows, formulas={(1, 3)})
    table = evaluate_table(g, find_header(g, MILESTONES), MILESTONES, Settings(), T)
    writes, blocked = plan_writes(table)
    assert sorted((w.row, w.col, w.value) for w in writes) == [
        (0, 5, "Days late"), (0, 6, "Slip (days)"), (0, 7, "Budget variance"),
        (0, 8, "Budget variance %"), (0, 9, "Expected progress %"),
        (1, 4, "due 2026-06-01, 14 days late"), (1, 5, 14),
    ]  # fmt: skip
    assert blocked == [
        "Milestones!D2: the Status cell holds a formula; it was not overwritten "
        "(clear it to let milestone-sheets fill it)"
    ]


def test_missing_computed_columns_are_added_after_the_last_used_header_cell():
    rows = [
        ["Name", "Owner", "Due", None, "Notes", "Status"],
        ["A", "Ana", "2026-07-01", None, "n", "On track"],
    ]
    table = evaluate(rows)
    writes, _ = plan_writes(table)
    headers = [(w.col, w.value, w.style_like) for w in writes if w.row == 0]
    assert headers == [(6, "Days late", 5), (7, "Slip (days)", 5), (8, "Budget variance", 5),
                       (9, "Budget variance %", 5), (10, "Expected progress %", 5),
                       (11, "Check", 5)]  # fmt: skip
    assert not [w for w in writes if w.row == 1]  # nothing else changed: Status is right


def test_date_order_from_settings():
    rows = [["Name", "Owner", "Due"], ["A", "Ana", "03/07/2026"]]
    assert evaluate(rows).records[0].values["due"] == date(2026, 7, 3)
    assert evaluate(rows, date_order="MDY").records[0].values["due"] == date(2026, 3, 7)


def test_settings_threshold_reaches_the_engine():
    rows = [
        ["Name", "Owner", "Start", "Due", "Progress"],
        ["A", "Ana", "2026-06-01", "2026-06-21", 0.6],
    ]
    assert evaluate(rows).computed[0].status == "On track"
    strict = evaluate(rows, status=StatusSettings(at_risk_behind=0.05))
    assert strict.computed[0].status == "At risk"


def test_ragged_rows_read_as_blank_past_their_end():
    rows = [
        ["Name", "Owner", "Due", "Budget", "Actual"],
        ["A", "Ana", "2026-07-01", 100],
        ["B"],
        [],
        ["C", "Cy", "2026-07-02", 50, 60, "stray cell"],
    ]
    table = evaluate(rows)
    a, b, blank, c = table.records
    assert a.values["budget"] == 100.0 and a.values["actual"] is None and not a.problems
    assert [p.message for p in b.problems] == ["Owner is missing", "Due is missing"]
    assert blank.skipped
    assert c.values["actual"] == 60.0


class GridBook:
    """A book of ready grids, for evaluate()."""

    def __init__(self, *grids: SheetGrid):
        self.by_title = {g.title: g for g in grids}
        self.titles = list(self.by_title)

    def grids(self, titles):
        return {title: self.by_title[title] for title in titles}


def test_check_says_why_a_milestone_needs_attention():
    rows = [
        ["Name", "Owner", "Start", "Due", "Completed", "Budget", "Actual", "Progress"],
        ["Late", "Ana", "2026-05-01", "2026-06-10", None, None, None, 0.5],
        ["Behind", "Ana", "2026-05-16", "2026-07-15", None, None, None, 0.05],
        ["Costly", "Ana", "2026-06-01", "2026-07-01", None, 5000, 6200, 0.6],
        ["Finished late", "Ana", "2026-05-01", "2026-06-01", "2026-06-02", None, None, None],
        ["Unknown", "Ana", "2026-05-16", "2026-07-15", None, None, None, None],
        ["Fine", "Ana", "2026-05-16", "2026-07-15", None, 100, 50, 0.6],
    ]
    table = evaluate(rows)
    checks = {
        r.values["name"]: (c.status, c.check)
        for r, c in zip(table.records, table.computed, strict=True)
    }
    assert checks == {
        "Late": ("Overdue", "due 2026-06-10, 5 days late"),
        "Behind": ("At risk", "5% done, 50% expected by now"),
        "Costly": ("At risk", "over budget by 1,200 (24%)"),
        "Finished late": ("Done late", "done 2026-06-02, 1 day after the due date"),
        "Unknown": ("On track", "progress unknown, 50% expected by now"),
        "Fine": ("On track", None),
    }


def test_rows_left_below_the_table_are_named():
    rows = [["Name", "Owner", "Due"], ["A", "Ana", "2026-07-01"], [None, None, None],
            ["Q3", None, None], ["B", "Ben", "2026-08-01"]]  # fmt: skip
    header = find_header(grid(rows), MILESTONES)
    assert header.end == 2
    assert header.warnings == (
        "Milestones!A5: the table ends at the blank row 3, and 1 row(s) below it that look "
        "like the table's were not read; remove the blank and label rows between them to "
        "include them.",
    )
    second_table = rows[:3] + [["Risk", "Owner", "Due", "Budget"], ["Late", "Ben", "2026-08-01", 5]]
    assert find_header(grid(second_table), MILESTONES).warnings == ()
