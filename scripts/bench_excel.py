#!/usr/bin/env python3
"""Benchmark the Excel sync against openpyxl and python-calamine on the same files.

Run by hand (it takes a few minutes), from a checkout with the test extras installed:

    python scripts/bench_excel.py [--rows 1000,10000,100000] [--dir bench-data] [--repeat 5]

For each size it generates a milestone workbook once (xlsxwriter), then measures, each in
its own process so that peak memory is that process's own:
  - first sync: a fresh copy, every computed cell written (the first sync of a sheet);
  - weekly sync: the synced file again a week later (the cron job's usual run);
  - openpyxl: load and save of the same file (what a naive write-back costs);
  - calamine: a bare python-calamine read of the milestones sheet.
The four are run in --repeat rounds, interleaved so that a machine whose speed drifts
during the run affects them alike, and each keeps its fastest round (a shared machine is
noisy); peak memory is that round's. It prints a Markdown table with wall seconds, peak
RSS and ratios.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

AS_OF = "2026-06-15"
WEEK_LATER = "2026-06-22"

OPENPYXL = """
import sys, openpyxl
wb = openpyxl.load_workbook(sys.argv[1])
wb.save(sys.argv[2])
"""
CALAMINE = """
import sys, python_calamine
rows = python_calamine.CalamineWorkbook.from_path(sys.argv[1]).get_sheet_by_name("Milestones").to_python()
print(len(rows))
"""


def measure(args: list[str]) -> tuple[float, float, int]:
    """(wall seconds, peak RSS in MB, exit code) of one child process."""
    start = time.perf_counter()
    child = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - start
    child.returncode = os.waitstatus_to_exitcode(status)
    return wall, usage.ru_maxrss / 1024, child.returncode


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", default="1000,10000,100000")
    parser.add_argument("--dir", default="bench-data", type=Path)
    parser.add_argument("--repeat", default=5, type=int)
    options = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from milestone_sheets.testing.generate import generate_plan

    folder: Path = options.dir
    folder.mkdir(exist_ok=True)
    cli = shutil.which("milestone-sheets") or "milestone-sheets"
    print(f"Machine: {os.cpu_count()} cores, {cpu_name()}, Python {platform.python_version()}")
    print()
    print(
        "| rows | file MB | first sync s | first sync MB | weekly sync s | weekly sync MB "
        "| openpyxl load+save s | calamine read s | openpyxl / first sync "
        "| openpyxl / weekly sync | first sync / calamine | weekly sync / calamine |"
    )
    print("| ---: " * 12 + "|")
    for rows in (int(n) for n in options.rows.split(",")):
        source = folder / f"plan-{rows}.xlsx"
        if not source.exists():
            generate_plan(source, rows)
        work = folder / f"work-{rows}.xlsx"
        saved = folder / f"openpyxl-{rows}.xlsx"
        runs = []
        # Rounds interleave the four measurements, so that a machine that slows down or
        # speeds up during the run affects them alike; each keeps its fastest round.
        for _ in range(options.repeat):
            shutil.copy(source, work)
            first_run = measure([cli, "sync", str(work), "--as-of", AS_OF])
            weekly_run = measure([cli, "sync", str(work), "--as-of", WEEK_LATER])
            assert first_run[2] in (0, 1) and weekly_run[2] in (0, 1), "sync failed"
            naive_run = measure([sys.executable, "-c", OPENPYXL, str(source), str(saved)])
            bare_run = measure([sys.executable, "-c", CALAMINE, str(source)])
            assert naive_run[2] == 0 and bare_run[2] == 0
            runs.append((first_run, weekly_run, naive_run, bare_run))
        first, first_mb, _ = min(run[0] for run in runs)
        weekly, weekly_mb, _ = min(run[1] for run in runs)
        naive = min(run[2][0] for run in runs)
        bare = min(run[3][0] for run in runs)
        size = source.stat().st_size / 1e6
        print(
            f"| {rows:,} | {size:.1f} | {first:.2f} | {first_mb:.0f} | {weekly:.2f} | {weekly_mb:.0f} "
            f"| {naive:.2f} | {bare:.2f} | {naive / first:.1f}x | {naive / weekly:.1f}x "
            f"| {first / bare:.1f}x | {weekly / bare:.1f}x |"
        )
        saved.unlink(missing_ok=True)
        work.unlink(missing_ok=True)


if __name__ == "__main__":
    main()
