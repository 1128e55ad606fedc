"""The documented Python API: open a source, evaluate it, sync it, DataFrames."""

from __future__ import annotations

from datetime import date

import milestone_sheets as ms
from milestone_sheets.starter import build_workbook

AS_OF = date(2026, 6, 15)


def test_open_evaluate_sync_and_frames(tmp_path):
    path = tmp_path / "plan.xlsx"
    build_workbook(path, AS_OF)
    before = path.read_bytes()
    source = ms.open_source(path)
    outcome = ms.evaluate(source, as_of=AS_OF)
    assert path.read_bytes() == before  # evaluating writes nothing
    assert not outcome.written and outcome.changes.writes
    milestones = outcome.frame("milestones")
    assert len(milestones) == 12
    assert {"row", "id", "name", "owner", "due", "Status", "Days late", "Check"} <= set(milestones)
    assert set(milestones["Status"]) >= {"Done", "Overdue", "At risk", "Invalid"}
    assert milestones.loc[milestones["Status"] == "Invalid", "Check"].notna().all()
    goals, tasks = outcome.frame("goals"), outcome.frame("tasks")
    assert len(goals) == 2 and "Next checkpoint" in goals
    assert len(tasks) > 0 and set(tasks["Status"]) <= {"Done", "Overdue", "Open", "Invalid"}
    assert outcome.exit_code == 1 and any("is not a date" in p for p in outcome.problems)

    synced = ms.sync(source, as_of=AS_OF)
    assert synced.written and path.read_bytes() != before
    again = ms.sync(source, as_of=AS_OF)
    assert not again.written and not again.changes.writes
    # What a sync wrote is what the next read sees.
    assert list(ms.evaluate(source, as_of=AS_OF).frame()["Status"]) == list(milestones["Status"])


def test_a_config_and_a_worksheet_setting(tmp_path):
    path = tmp_path / "plan.xlsx"
    build_workbook(path, AS_OF)
    statuses = {}
    for behind in ("0.0", "1.0"):
        config_path = tmp_path / "milestone-sheets.toml"
        config_path.write_text(f"[status]\nat_risk_behind = {behind}\n", "utf-8")
        config = ms.load_config(config_path)
        outcome = ms.evaluate(ms.open_source(path, config), AS_OF, ms.settings_for(config))
        statuses[behind] = list(outcome.frame()["Status"])
    # Any progress behind the straight line is At risk at 0; at 1, only over budget is.
    assert statuses["0.0"].count("At risk") > statuses["1.0"].count("At risk")


def test_an_absent_table_is_an_empty_frame(tmp_path):
    from workbooks import HEADER, write_xlsx

    rows = [HEADER, ["M1", "Site", "Ana", "ana@example.com", "Product", None, date(2026, 7, 1)]]
    path = write_xlsx(tmp_path / "p.xlsx", {"Milestones": rows})
    outcome = ms.evaluate(ms.open_source(path), AS_OF)
    assert outcome.frame("goals").empty and outcome.table("tasks") is None


def test_a_history_gives_the_slip_and_the_changes(tmp_path):
    from openpyxl import load_workbook

    path = tmp_path / "plan.xlsx"
    build_workbook(path, AS_OF)
    source = ms.open_source(path)
    history = ms.History(tmp_path / "state")
    ms.sync(source, as_of=AS_OF, history=history)
    book = load_workbook(path)
    sheet = book["Milestones"]
    header = [c.value for c in sheet[2]]
    due = header.index("Due") + 1
    sheet.cell(5, due).value = date(2026, 8, 31)  # M3 moves
    book.save(path)
    synced = ms.sync(source, as_of=date(2026, 6, 20), history=history)
    assert synced.recorded
    frame = synced.frame()
    assert frame.loc[frame["id"] == "M3", "Slip (days)"].item() > 0
    past = history.past(ms.app.identity(source.location))
    assert [s.as_of for s in past.snapshots] == [AS_OF, date(2026, 6, 20)]
    history.close()
    # Without a history, the Slip cells are left as they are.
    again = ms.sync(source, as_of=date(2026, 6, 20))
    assert not [w for w in again.changes.writes if w.col == header.index("Slip (days)")]
