"""The command line explains itself: owners found however they are typed, dates read
in the other order named, dry runs in the sheet's terms, help for every option."""

from __future__ import annotations

import json
from datetime import date

import click
from workbooks import write_xlsx

from milestone_sheets.cli import main

AS_OF = "2026-06-15"
ROWS = [
    ["ID", "Milestone", "Owner", "Email", "Due"],
    ["M1", "Website", "José Núñez", "jose@example.com", date(2026, 6, 10)],
    ["M2", "Pilot", "Ana", "ana@example.com", "13/04/2026"],
]


def test_owner_matches_name_or_email_whatever_the_case_and_accents(runner, tmp_path):
    plan = write_xlsx(tmp_path / "p.xlsx", {"Milestones": ROWS})
    for typed in ("jose nunez", "JOSÉ  NÚÑEZ", "Jose@Example.com"):
        result = runner.invoke(main, ["status", str(plan), "--as-of", AS_OF, "--owner", typed,
                                      "--format", "json"])  # fmt: skip
        assert [row["id"] for row in json.loads(result.stdout)] == ["M1"], typed
    result = runner.invoke(main, ["status", str(plan), "--as-of", AS_OF, "--owner", "Zed"])
    assert "No milestone has the owner 'Zed'" in result.output and "José Núñez" in result.output


def test_a_date_the_other_order_reads_says_so(runner, tmp_path):
    plan = write_xlsx(tmp_path / "p.xlsx", {"Milestones": ROWS})
    (tmp_path / "milestone-sheets.toml").write_text('[source]\ndate_order = "MDY"\n')
    result = runner.invoke(main, ["validate", str(plan), "--as-of", AS_OF,
                                  "--config", str(tmp_path / "milestone-sheets.toml")])  # fmt: skip
    assert result.exit_code == 1
    assert ("Milestones!E3: Due '13/04/2026' is not a date in MDY order; in DMY order it is "
            '2026-04-13 (set date_order = "DMY"') in result.output  # fmt: skip


def test_config_after_the_command_name(runner, tmp_path):
    plan = write_xlsx(tmp_path / "p.xlsx", {"Milestones": ROWS[:2]})
    config = tmp_path / "elsewhere.toml"
    config.write_text('[columns]\nowner = "Owner"\n[status]\nat_risk_behind = 0.5\n')
    before = runner.invoke(main, ["--config", str(config), "status", str(plan), "--as-of", AS_OF])
    after = runner.invoke(main, ["status", str(plan), "--as-of", AS_OF, "--config", str(config)])
    assert before.exit_code == after.exit_code == 0 and before.output == after.output
    bad = runner.invoke(main, ["status", str(plan), "--config", str(tmp_path / "missing.toml")])
    assert bad.exit_code == 2


def test_a_dry_run_speaks_of_milestones_and_columns(runner, tmp_path):
    plan = write_xlsx(tmp_path / "p.xlsx", {"Milestones": ROWS[:2]})
    result = runner.invoke(main, ["sync", str(plan), "--as-of", AS_OF, "--dry-run"])
    assert "Milestones!F1: new column 'Status'" in result.output
    assert "M1 Status: (blank) -> Overdue (Milestones!F2)" in result.output
    assert "M1 Check: (blank) -> due 2026-06-10, 5 days late (Milestones!L2)" in result.output


def test_every_option_has_help_text():
    def commands(group: click.Group):
        yield group
        for command in group.commands.values():
            yield from commands(command) if isinstance(command, click.Group) else [command]

    missing = [
        f"{command.name} {param.opts[0]}"
        for command in commands(main)
        for param in command.params
        if isinstance(param, click.Option) and not param.help
    ]
    assert missing == []


def test_init_writes_no_address_that_could_mail_anyone(runner, tmp_path):
    result = runner.invoke(main, ["init", str(tmp_path / "plan.xlsx")])
    assert result.exit_code == 0, result.output
    config = (tmp_path / "milestone-sheets.toml").read_text()
    assert "\n# from = " in config and "\n# manager = " in config
    assert not [line for line in config.splitlines()
                if "@" in line and not line.lstrip().startswith("#")]  # fmt: skip


def test_init_empty_has_the_headers_and_no_rows(runner, tmp_path):
    import openpyxl

    result = runner.invoke(main, ["init", "--empty", str(tmp_path / "blank.xlsx")])
    assert result.exit_code == 0, result.output
    book = openpyxl.load_workbook(tmp_path / "blank.xlsx")
    assert book.sheetnames == ["Milestones", "Goals", "Tasks"]
    milestones = book["Milestones"]
    assert "Milestone" in [c.value for c in milestones[2]] and milestones.max_row == 2
    check = runner.invoke(main, ["validate", str(tmp_path / "blank.xlsx")])
    assert check.exit_code == 0, check.output


def test_placeholder_addresses_are_called_out(runner, tmp_path):
    plan = write_xlsx(tmp_path / "p.xlsx", {"Milestones": ROWS[:2] + [
        ["M3", "Fair", "Bo", "bo@example.com", date(2026, 6, 20)]]})  # fmt: skip
    result = runner.invoke(main, ["review", str(plan), "--as-of", AS_OF,
                                  "--outbox", str(tmp_path / "out")])  # fmt: skip
    assert "Warning: 2 emails to placeholder addresses (bo@example.com, jose@example.com)" in (
        result.output
    )
    assert "Wrote 2 emails for June 2026" in result.output
