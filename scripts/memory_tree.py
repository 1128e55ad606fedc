#!/usr/bin/env python3
"""Peak memory of a command together with the child processes it forks (Linux).

Run by hand, on a copy (a sync writes to the file):

    python scripts/memory_tree.py milestone-sheets sync plan.xlsx --as-of 2026-06-15

A sync of a large sheet forks short-lived children (the formula scan, the second half of
the write), so the peak RSS of the main process alone (what bench_excel.py reports) is not
the whole story, and adding up the processes' RSS would count twice the pages a child
shares with its parent after fork. This samples every 5 ms the proportional set size
(PSS: each shared page split between the processes sharing it) of the command and all its
descendants, and prints the peak of their sum, overall and while a child lived.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time


def tree(pid: int) -> list[int]:
    """The process and its descendants."""
    found = [pid]
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as children:
                for child in children.read().split():
                    found += tree(int(child))
    except OSError:  # it ended meanwhile
        pass
    return found


def pss(pid: int) -> int:
    """Proportional set size in bytes; 0 for a process that ended meanwhile."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as rollup:
            for line in rollup:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def main() -> int:
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    command = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL)
    peak = peak_with_child = 0
    while command.poll() is None:
        pids = tree(command.pid)
        total = sum(map(pss, pids))
        peak = max(peak, total)
        if len(pids) > 1:
            peak_with_child = max(peak_with_child, total)
        time.sleep(0.005)
    mb = 1 << 20
    print(
        f"peak PSS of the process tree: {peak / mb:.0f} MB; "
        f"while a child lived: {peak_with_child / mb:.0f} MB; exit code {command.returncode}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
