"""Several sources in one run, and one sync per source at a time."""

from __future__ import annotations

from datetime import date

import filelock
import openpyxl
from workbooks import write_xlsx

import milestone_sheets
from milestone_sheets.cli import main


def team_plan(path, due="2026-07-01"):
    return write_xlsx(
        path, {"Milestones": [["Name", "Owner", "Due"], ["Launch", "Ana", date.fromisoformat(due)]]}
    )


def config_with(tmp_path, *locations):
    text = "".join(f'[[sources]]\nlocation = "{loc}"\n' for loc in locations)
    path = tmp_path / "milestone-sheets.toml"
    path.write_text(text)
    return path


def test_sync_all_goes_on_after_a_failure_and_says_which_failed(runner, tmp_path):
    team_plan(tmp_path / "a.xlsx")
    team_plan(tmp_path / "c.xlsx")
    config = config_with(tmp_path, "a.xlsx", "missing.xlsx", "c.xlsx")
    result = runner.invoke(
        main, ["--config", str(config), "sync", "--all", "--as-of", "2026-06-15"]
    )
    assert result.exit_code == 3, result.output
    assert "missing.xlsx: file not found" in result.output
    assert "ok            exit 0" in result.output
    assert "failed        exit 3" in result.output
    for name in ("a.xlsx", "c.xlsx"):
        assert openpyxl.load_workbook(tmp_path / name)["Milestones"]["D2"].value == "On track"


def test_sync_all_with_data_problems_only_is_exit_1(runner, tmp_path):
    team_plan(tmp_path / "a.xlsx")
    write_xlsx(
        tmp_path / "b.xlsx",
        {"Milestones": [["Name", "Owner", "Due"], ["X", None, date(2026, 7, 1)]]},
    )
    config = config_with(tmp_path, "a.xlsx", "b.xlsx")
    result = runner.invoke(
        main, ["--config", str(config), "sync", "--all", "--as-of", "2026-06-15"]
    )
    assert result.exit_code == 1
    assert "Milestones!B2: Owner is missing" in result.output


def test_sync_all_needs_sources(runner, tmp_path):
    (tmp_path / "milestone-sheets.toml").write_text("")
    result = runner.invoke(
        main, ["--config", str(tmp_path / "milestone-sheets.toml"), "sync", "--all"]
    )
    assert result.exit_code == 2 and "lists no [[sources]]" in result.output


def test_a_second_sync_of_the_same_source_gives_up_while_the_first_runs(runner, tmp_path):
    """The lock is the workbook's, not the config's: a sync under another config (another
    state folder) waits its turn too."""
    plan = team_plan(tmp_path / "a.xlsx")
    config_path = config_with(tmp_path, "a.xlsx")
    other = tmp_path / "other"
    other.mkdir()
    holder = milestone_sheets.open_source(plan)
    with filelock.FileLock(str(holder.lock_path(other / ".milestone-sheets"))):
        result = runner.invoke(main, ["--config", str(config_path), "sync", str(plan.resolve())])
    assert result.exit_code == 3
    assert "another milestone-sheets sync of this source is running" in result.output
    assert openpyxl.load_workbook(plan)["Milestones"]["D1"].value is None  # nothing written
    result = runner.invoke(
        main, ["--config", str(config_path), "sync", str(plan.resolve()), "--as-of", "2026-06-15"]
    )
    assert result.exit_code == 0
