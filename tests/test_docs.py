"""The documents stay true: the CLI reference matches --help, the README's module map
matches the tree."""

from __future__ import annotations

import re
import runpy
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_cli_reference_is_generated_from_help():
    reference = runpy.run_path(str(ROOT / "scripts" / "cli_reference.py"))["reference"]
    assert (ROOT / "docs" / "cli.md").read_text(encoding="utf-8") == reference(), (
        "docs/cli.md is stale: run python scripts/cli_reference.py"
    )


def test_the_readme_module_map_matches_the_package():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## How it is built", 1)[1].split("\n## ", 1)[0]
    listed = set(re.findall(r"`(milestone_sheets/[\w/]+\.py)`", section))
    package = ROOT / "milestone_sheets"
    actual = {
        p.relative_to(ROOT).as_posix()
        for p in package.rglob("*.py")
        if p.name not in ("__init__.py", "__main__.py")
    }
    assert listed == actual, f"missing: {sorted(actual - listed)}; gone: {sorted(listed - actual)}"


def test_every_picture_the_readme_shows_is_in_the_repository():
    import re

    root = Path(__file__).resolve().parents[1]
    readme = (root / "README.md").read_text(encoding="utf-8")
    pictures = re.findall(r'(?:src="|\]\()(docs/images/[^")]+\.png)', readme)
    assert len(pictures) >= 5
    for picture in pictures:
        data = (root / picture).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n", picture


def test_the_readme_crontab_is_the_shipped_one():
    import re

    root = Path(__file__).resolve().parents[1]
    readme = (root / "README.md").read_text(encoding="utf-8")
    block = re.search(r"```crontab\n(.*?)```", readme, re.S)
    assert block
    shown = [line for line in block.group(1).splitlines() if not line.startswith("MAILTO")]
    shipped = [line for line in (root / "scripts" / "milestone-sheets.cron").read_text().splitlines()
               if line and not line.startswith(("#", "MAILTO"))]  # fmt: skip
    assert shown == shipped


def test_every_config_in_the_readme_is_valid(tmp_path):
    import re
    import tomllib

    from milestone_sheets.config import parse_config

    root = Path(__file__).resolve().parents[1]
    readme = (root / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```toml\n(.*?)```", readme, re.S)
    assert blocks
    for block in blocks:
        parse_config(tomllib.loads(block), tmp_path)  # raises ConfigError on a bad key
