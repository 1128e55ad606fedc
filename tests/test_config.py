"""milestone-sheets.toml: every key validated; a bad one is exit 2 naming the key."""

from pathlib import Path

import pytest

from milestone_sheets.cli import main
from milestone_sheets.config import load_config, parse_config
from milestone_sheets.errors import ConfigError

FULL = """
[source]
location = "plan.xlsx"
worksheet = "Plan"
date_order = "MDY"

[columns]
owner = "Responsible"

[status]
at_risk_behind = 0.1
checkpoint_days = 14

[review]
from = "Plan Office <plan@example.com>"
reply_to = "plan@example.com"
manager = "ceo@example.com"
allowed_domains = ["example.com"]
templates = "my-templates"
outbox = "out"
state = ".state"

[smtp]
host = "smtp.example.com"
port = 587
security = "starttls"
username = "plan@example.com"
timeout = 10
rate_per_minute = 30

[google]
credentials = "sa.json"
endpoint = "http://127.0.0.1:8080/"
"""


def test_every_documented_key_loads(tmp_path):
    path = tmp_path / "milestone-sheets.toml"
    path.write_text(FULL)
    config = load_config(path)
    assert config.source.location == "plan.xlsx"
    assert config.resolve("plan.xlsx") == str(tmp_path / "plan.xlsx")
    assert config.resolve("gsheet:abc") == "gsheet:abc"
    assert config.source.date_order == "MDY"
    assert config.columns == {"owner": "Responsible"}
    assert (config.status.at_risk_behind, config.status.checkpoint_days) == (0.1, 14)
    assert config.review.sender == "Plan Office <plan@example.com>"
    assert config.review.allowed_domains == ("example.com",)
    assert config.review.templates == tmp_path / "my-templates"
    assert config.review.outbox == tmp_path / "out"
    assert config.smtp.port == 587 and config.smtp.rate_per_minute == 30
    assert config.google.credentials == tmp_path / "sa.json"
    assert config.google.endpoint == "http://127.0.0.1:8080"


def test_defaults_without_a_file(tmp_path):
    config = load_config(cwd=tmp_path)
    assert config.path is None
    assert config.status.at_risk_behind == 0.25
    assert config.source.date_order == "DMY"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[source]\nlocaton = 'x'", "source.locaton: unknown key"),
        ("[sauce]\nlocation = 'x'", "sauce: unknown key"),
        ("[source]\ndate_order = 'YMD'", "source.date_order: expected one of DMY, MDY, got 'YMD'"),
        ("[status]\nat_risk_behind = 'high'", "status.at_risk_behind: expected a number, got str"),
        (
            "[status]\nat_risk_behind = 25",
            "status.at_risk_behind: expected a number between 0.0 and 1.0, got 25",
        ),
        (
            "[status]\ncheckpoint_days = 0",
            "status.checkpoint_days: expected a whole number of days >= 1",
        ),
        (
            "[status]\ncheckpoint_days = true",
            "status.checkpoint_days: expected an integer, got a boolean",
        ),
        ("[columns]\nowner = 5", "columns.owner: expected a string, got int"),
        ("[columns]\nboss = 'Boss'", "columns.boss: unknown field"),
        ("[smtp]\nsecurity = 'tls'", "smtp.security: expected one of none, starttls, ssl"),
        ("[smtp]\nport = 70000", "smtp.port: expected a port number"),
        (
            "[review]\nallowed_domains = 'example.com'",
            "review.allowed_domains: expected a list, got str",
        ),
        (
            "[google]\nendpoint = 'sheets.example.com'",
            "google.endpoint: expected an http:// or https:// URL",
        ),
        ("source = 'plan.xlsx'", "source: expected a table, got str"),
        ("[source\n", "not valid TOML"),
    ],
)
def test_bad_config_is_exit_2_naming_the_key(runner, tmp_path, text, message):
    path = tmp_path / "milestone-sheets.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=None) as caught:
        load_config(path)
    assert message in str(caught.value)
    result = runner.invoke(main, ["--config", str(path), "validate", "x.xlsx"])
    assert result.exit_code == 2
    assert message in result.output


def test_missing_config_file_given_is_exit_2(runner, tmp_path):
    result = runner.invoke(main, ["--config", str(tmp_path / "none.toml"), "status"])
    assert result.exit_code == 2
    assert "config file not found" in result.output


def test_no_source_anywhere_is_exit_2(runner, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(main, ["status"])
    assert result.exit_code == 2
    assert "no source given" in result.output


def test_config_columns_and_location_drive_the_cli(runner, tmp_path, monkeypatch):
    from datetime import date

    from workbooks import write_xlsx

    write_xlsx(tmp_path / "plan.xlsx", {"Plan": [["Name", "Boss", "Due", "Owner"],
                                                 ["A", "Ana", date(2026, 7, 1), "not me"]]})  # fmt: skip
    (tmp_path / "milestone-sheets.toml").write_text(
        '[source]\nlocation = "plan.xlsx"\nworksheet = "Plan"\n[columns]\nowner = "Boss"\n'
    )
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(main, ["status", "--format", "csv", "--as-of", "2026-06-15"])
    assert result.exit_code == 0, result.output
    assert ",A,Ana," in result.output


def test_parse_config_is_pure():
    config = parse_config({"status": {"at_risk_behind": 0.5}}, Path("/plans"))
    assert config.status.at_risk_behind == 0.5
    assert config.resolve("a.xlsx") == "/plans/a.xlsx"
