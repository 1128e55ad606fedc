#!/usr/bin/env python3
"""Where one sync of an Excel workbook spends its time, phase by phase, in one process.

Run by hand, on a copy (the sync writes to the file):

    python scripts/phases_excel.py plan.xlsx --as-of 2026-06-15

It runs the command line's `sync` in this process with a timer around each phase and
prints one line: start-up (imports), the read (python-calamine, split on a large sheet,
with the formula scan), the wait for a background formula scan, parsing, the date and
duplicate checks, status, finding the changed cells, the write, and the total. Phases
nest inside the total; the remainder is the command's own work (config, lock, report).
Freeing the objects at exit comes after the total and is not in it.

The host's speed drifts, so compare two versions by running them in turns (for one
checkout against another, set PYTHONPATH to each in turn).
"""

from __future__ import annotations

import argparse
import functools
import sys
import time
from pathlib import Path
from typing import Any

START = time.perf_counter()
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from milestone_sheets import cli, model  # noqa: E402
from milestone_sheets import evaluate as ev  # noqa: E402
from milestone_sheets.sources import background_scan, excel  # noqa: E402

TIMES: dict[str, float] = {}


def timed(owner: Any, name: str, label: str) -> None:
    function = getattr(owner, name)

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            TIMES[label] = TIMES.get(label, 0.0) + time.perf_counter() - start

    setattr(owner, name, wrapper)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("workbook", type=Path)
    parser.add_argument("--as-of", required=True)
    options = parser.parse_args()
    imported = time.perf_counter() - START
    timed(excel.ExcelBook, "_load", "read")
    timed(background_scan._Child, "_collect", "scan wait")
    timed(model, "parse_rows", "parse")
    timed(model, "check_dates", "dates")
    timed(model, "check_duplicates", "duplicates")
    timed(ev, "compute_all", "status")
    timed(ev, "plan_writes", "changed cells")
    timed(excel.ExcelSource, "write", "write")
    start = time.perf_counter()
    try:
        cli.main(["sync", str(options.workbook), "--as-of", options.as_of], standalone_mode=False)
    except SystemExit:
        pass
    total = time.perf_counter() - start + imported
    phases = " | ".join(f"{label} {seconds:.2f}" for label, seconds in TIMES.items())
    print(f"start-up {imported:.2f} | {phases} | total {total:.2f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
