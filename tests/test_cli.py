"""The command line: help everywhere, init and demo, and the installed console script."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path

import openpyxl
import pytest

from milestone_sheets import __version__
from milestone_sheets.cli import main

COMMANDS = sorted(main.commands)


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help_ending_with_an_example(runner, command):
    result = runner.invoke(main, [command, "--help"])
    assert result.exit_code == 0
    assert "Example: milestone-sheets" in result.output


def test_every_command_is_documented_in_the_cli_reference():
    root = Path(__file__).parents[1]
    reference = (root / "docs" / "cli.md").read_text(encoding="utf-8")
    for command in COMMANDS:
        assert f"## milestone-sheets {command}\n" in reference, command
    assert "docs/cli.md" in (root / "README.md").read_text(encoding="utf-8")


def test_version_and_group_help(runner):
    assert (
        runner.invoke(main, ["--version"]).output.strip()
        == f"milestone-sheets, version {__version__}"
    )
    result = runner.invoke(main, ["--help"])
    assert result.exit_code == 0 and "--config FILE" in result.output


def test_bad_as_of_is_a_usage_error(runner):
    result = runner.invoke(main, ["status", "x.xlsx", "--as-of", "yesterday"])
    assert result.exit_code == 2
    assert "'yesterday' is not a date in YYYY-MM-DD form" in result.output


def test_init_makes_a_starter_workbook_and_config(runner, tmp_path):
    path = tmp_path / "plan.xlsx"
    result = runner.invoke(main, ["init", str(path)])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "milestone-sheets.toml").read_text().count('location = "plan.xlsx"') == 1
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames == ["Milestones", "Goals", "Tasks"]
    ws = wb["Milestones"]
    assert ws.freeze_panes == "A3"
    assert [v.formula1 for v in ws.data_validations.dataValidation] == [
        '"Marketing & Sales,Product,Other"'
    ]
    rules = [rule for cf in ws.conditional_formatting for rule in cf.rules]
    assert {rule.formula[0] for rule in rules} >= {'"Overdue"', '"At risk"', '"Done"'}
    assert 10 <= ws.max_row - 2 <= 15
    again = runner.invoke(main, ["init", str(path)])
    assert again.exit_code == 2 and "--force" in again.output


def test_demo_shows_every_status_and_two_problems(runner, tmp_path):
    folder = tmp_path / "demo"
    result = runner.invoke(main, ["demo", str(folder)])
    assert result.exit_code == 0, result.output
    for status in ("Done", "Done late", "On track", "At risk", "Overdue", "Not started", "Invalid"):
        assert f" {status}" in result.output
    assert "Milestones!I12: Due 'next friday' is not a date" in result.output
    assert "Milestones!C13: Owner is missing" in result.output
    assert str((folder / "milestones.xlsx").resolve()) in result.output
    status = runner.invoke(
        main, ["--config", str(folder / "milestone-sheets.toml"), "status", "--format", "json"]
    )
    rows = json.loads(status.stdout)
    assert len(rows) == 12


def test_status_filters(runner, tmp_path):
    runner.invoke(main, ["demo", str(tmp_path)])
    config = str(tmp_path / "milestone-sheets.toml")
    result = runner.invoke(
        main, ["--config", config, "status", "--format", "json", "--status", "overdue"]
    )
    assert [r["status"] for r in json.loads(result.stdout)] == ["Overdue"]
    result = runner.invoke(
        main, ["--config", config, "status", "--format", "json", "--owner", "ben okafor"]
    )
    assert {r["owner"] for r in json.loads(result.stdout)} == {"Ben Okafor"}


def test_the_installed_console_script_runs_as_a_real_process(tmp_path):
    script = shutil.which("milestone-sheets", path=str(Path(sys.executable).parent))
    assert script, "the console script is installed with the package"
    done = subprocess.run(
        [script, "demo", str(tmp_path / "d")], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert "12 milestones: " in done.stdout
    status = subprocess.run(
        [script, "status", str(tmp_path / "d" / "milestones.xlsx"), "--format", "json",
         "--as-of", date.today().isoformat()],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert status.returncode == 1  # the demo's two data problems
    assert "Milestones!I12: Due 'next friday' is not a date" in status.stderr
    assert len(json.loads(status.stdout)) == 12
    help_run = subprocess.run(
        [script, "sync", "--help"], capture_output=True, text=True, timeout=60
    )
    assert help_run.returncode == 0 and "--dry-run" in help_run.stdout


def test_the_console_script_ends_with_the_spec_exit_codes_and_all_its_output(tmp_path):
    """The console script ends the process without freeing what a sync left (cli.run):
    its exit codes and output must be those of the command all the same."""
    script = shutil.which("milestone-sheets", path=str(Path(sys.executable).parent))
    assert script
    subprocess.run([script, "demo", str(tmp_path / "d")], capture_output=True, timeout=120)
    workbook = tmp_path / "d" / "milestones.xlsx"
    before = workbook.read_bytes()
    args = ["sync", str(workbook), "--as-of", "2026-07-20"]
    first = subprocess.run([script, *args], capture_output=True, text=True, timeout=120)
    assert first.returncode == 1, first.stderr  # the demo's data problems
    assert "Milestones!I12: Due 'next friday' is not a date" in first.stderr
    assert first.stdout.startswith("Wrote ") and "12 milestones: " in first.stdout
    assert workbook.read_bytes() != before
    again = subprocess.run(
        [sys.executable, "-m", "milestone_sheets", *args],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert again.returncode == 1 and again.stdout.startswith("Up to date: nothing to write")
    usage = subprocess.run([script, "sync", "--no-such-option"], capture_output=True, text=True)
    assert usage.returncode == 2 and "No such option" in usage.stderr
    missing = subprocess.run(
        [script, "sync", str(tmp_path / "gone.xlsx")], capture_output=True, text=True
    )
    assert missing.returncode == 3 and "file not found" in missing.stderr
    # A reader that stops early: the exit code says so, as Python's own does.
    head = subprocess.run(
        f"'{script}' status '{workbook}' --format csv --as-of 2026-07-20 | head -c 10",
        shell=True, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert len(head.stdout) == 10
