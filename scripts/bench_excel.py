#!/usr/bin/env python3
"""Benchmark the Excel sync against openpyxl and python-calamine on the same files.

Run by hand (it takes a few minutes), from a checkout with the test extras installed:

    python scripts/bench_excel.py [--rows 1000,10000,100000] [--dir bench-data] [--repeat 5]

The sync measured is the product as it ships: a wheel built from the checkout and
installed into a new virtual environment in --dir (its modules compiled by pip, as a
user's are), unless --cli names a milestone-sheets command to time instead.

For each size it generates a milestone workbook once (xlsxwriter) and syncs a copy of it
once, which gives the two files a sync meets:
  - the new plan, whose first sync writes every computed cell;
  - the synced plan, whose weekly sync a week later (the cron job's usual run) rewrites
    the computed cells that changed.
For each file it measures, each in its own process so that peak memory is that
process's own: the sync of a fresh copy, an openpyxl load and save of the file (what a
naive write-back costs), and a bare python-calamine read of its milestones sheet; the
ratios compare the sync with those two on the same file. The measurements run in
--repeat rounds, interleaved so that a machine whose speed drifts during the run affects
them alike, and each keeps its fastest round (a shared machine is noisy); peak memory is
that round's. It prints a Markdown table with wall seconds, peak RSS and ratios.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import time
import venv
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# A user's environment: pip compiles the installed modules once, and Python reads them
# compiled (a shell that sets PYTHONDONTWRITEBYTECODE would have every run compile them).
USER_ENV = {name: value for name, value in os.environ.items() if name != "PYTHONDONTWRITEBYTECODE"}
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
    child = subprocess.Popen(
        args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=USER_ENV
    )
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
    parser.add_argument("--cli", help="a milestone-sheets command (default: a new wheel's)")
    options = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    from milestone_sheets.testing.generate import generate_plan

    folder: Path = options.dir
    folder.mkdir(exist_ok=True)
    cli = options.cli or installed_wheel(folder)
    print(f"Machine: {os.cpu_count()} cores, {cpu_name()}, Python {platform.python_version()}")
    print()
    print(
        "| rows | sync | file MB | sheet XML MB | sync s | sync peak MB | openpyxl load+save s "
        "| calamine read s | openpyxl / sync | sync / calamine |"
    )
    print("| ---: | :--- " + "| ---: " * 8 + "|")
    for rows in (int(n) for n in options.rows.split(",")):
        plan = folder / f"plan-{rows}.xlsx"
        if not plan.exists():
            generate_plan(plan, rows)
        synced = folder / f"synced-{rows}.xlsx"
        shutil.copy(plan, synced)
        _, _, code = measure([cli, "sync", str(synced), "--as-of", AS_OF])
        assert code in (0, 1), "sync failed"
        kinds = (("first", plan, AS_OF), ("weekly", synced, WEEK_LATER))
        work = folder / f"work-{rows}.xlsx"
        saved = folder / f"openpyxl-{rows}.xlsx"
        runs: dict[str, list[tuple[tuple[float, float, int], float, float]]] = {
            kind: [] for kind, _, _ in kinds
        }
        # Rounds interleave the measurements, so that a machine that slows down or
        # speeds up during the run affects them alike; each keeps its fastest round.
        for _ in range(options.repeat):
            for kind, source, as_of in kinds:
                shutil.copy(source, work)
                sync_run = measure([cli, "sync", str(work), "--as-of", as_of])
                assert sync_run[2] in (0, 1), "sync failed"
                naive_run = measure([sys.executable, "-c", OPENPYXL, str(source), str(saved)])
                bare_run = measure([sys.executable, "-c", CALAMINE, str(source)])
                assert naive_run[2] == 0 and bare_run[2] == 0
                runs[kind].append((sync_run, naive_run[0], bare_run[0]))
        for kind, source, _ in kinds:
            wall, peak, _ = min(run[0] for run in runs[kind])
            naive = min(run[1] for run in runs[kind])
            bare = min(run[2] for run in runs[kind])
            size = source.stat().st_size / 1e6
            print(
                f"| {rows:,} | {kind} | {size:.1f} | {sheet_xml_mb(source):.0f} | {wall:.2f} "
                f"| {peak:.0f} | {naive:.2f} | {bare:.2f} | {naive / wall:.1f}x "
                f"| {wall / bare:.1f}x |"
            )
        for path in (saved, work, synced):
            path.unlink(missing_ok=True)


def installed_wheel(folder: Path) -> str:
    """The milestone-sheets command of a wheel built from this checkout, installed into a
    new virtual environment in `folder`."""
    dist, env = folder / "dist", folder / "venv"
    shutil.rmtree(dist, ignore_errors=True)
    shutil.rmtree(env, ignore_errors=True)
    build = [sys.executable, "-m", "build", "--wheel", "--outdir", str(dist), str(ROOT)]
    subprocess.run(build, check=True, stdout=subprocess.DEVNULL)
    venv.create(env, with_pip=True)
    wheel = str(next(dist.glob("*.whl")))
    pip = [str(env / "bin" / "python"), "-m", "pip", "install", "-q", wheel]
    subprocess.run(pip, check=True, env=USER_ENV)
    return str(env / "bin" / "milestone-sheets")


def sheet_xml_mb(path: Path) -> float:
    """The size of the milestones worksheet's XML, uncompressed."""
    with zipfile.ZipFile(path) as archive:
        return archive.getinfo("xl/worksheets/sheet1.xml").file_size / 1e6


if __name__ == "__main__":
    main()
