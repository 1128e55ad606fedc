#!/usr/bin/env python3
"""Write docs/cli.md, the command-line reference, from the commands' own --help.

    python scripts/cli_reference.py          # rewrite docs/cli.md
    python scripts/cli_reference.py --check  # exit 1 if docs/cli.md is stale

tests/test_docs.py runs the check, so the reference never drifts from the code.
"""

from __future__ import annotations

import sys
from pathlib import Path

from click.testing import CliRunner

from milestone_sheets.cli import main

TARGET = Path(__file__).resolve().parents[1] / "docs" / "cli.md"


def reference() -> str:
    """The Markdown reference: the group's help, then each command's."""
    runner = CliRunner()
    parts = [
        "# Command-line reference\n",
        "Generated from `--help` by `scripts/cli_reference.py`; do not edit by hand.\n",
    ]
    for name in [None, *sorted(main.commands)]:
        args = ["--help"] if name is None else [name, "--help"]
        result = runner.invoke(main, args, prog_name="milestone-sheets", terminal_width=88)
        title = "milestone-sheets" if name is None else f"milestone-sheets {name}"
        parts.append(f"## {title}\n\n```text\n{result.output.rstrip()}\n```\n")
    return "\n".join(parts)


if __name__ == "__main__":
    text = reference()
    if "--check" in sys.argv:
        sys.exit(0 if TARGET.read_text(encoding="utf-8") == text else 1)
    TARGET.write_text(text, encoding="utf-8")
