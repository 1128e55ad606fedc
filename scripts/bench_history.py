#!/usr/bin/env python3
"""How big the history store grows: a year of weekly syncs of a large plan.

Each sync changes something (a status, a date), so each adds a full snapshot: the worst
case. Prints the store's size and the time to record a sync and to read the history back.

    python scripts/bench_history.py [--milestones 2000] [--weeks 52]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

from milestone_sheets.domain.drift import Seen
from milestone_sheets.history import HISTORY_NAME, History


def plan(count: int, week: int) -> dict[str, Seen]:
    start = date(2026, 1, 5)
    return {
        f"m{i}": Seen(
            key=f"m{i}", row=i + 2, id=f"M{i}", name=f"Milestone number {i}",
            owner=f"Owner {i % 40}", email=f"owner{i % 40}@example.com",
            status=("On track", "At risk", "Done")[(i + week) % 3],
            due=start + timedelta(days=30 + i % 300 + (week if i % 10 == 0 else 0)),
            start=start + timedelta(days=i % 200), completed=None,
            budget=1000.0 + i, actual=900.0 + i * 2, progress=(i % 10) / 10,
        )
        for i in range(count)
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--milestones", type=int, default=2000)
    parser.add_argument("--weeks", type=int, default=52)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        state = Path(folder)
        history = History(state)
        took = []
        for week in range(args.weeks):
            seen = plan(args.milestones, week)
            day = date(2026, 1, 5) + timedelta(weeks=week)
            began = time.perf_counter()
            history.past("bench", snapshots=False)  # what a sync reads first: the baselines
            history.record("bench", day, seen)
            took.append(time.perf_counter() - began)
        began = time.perf_counter()
        whole = history.past("bench")
        read = time.perf_counter() - began
        history.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        history.close()
        size = (state / HISTORY_NAME).stat().st_size
    rows = args.weeks * args.milestones
    print(f"{args.weeks} syncs x {args.milestones} milestones = {rows:,} rows: "
          f"{size / 1e6:.1f} MB ({size / rows:.0f} bytes a row)")  # fmt: skip
    print(
        f"a sync's history (read the baselines, record a snapshot): "
        f"{sum(took) / len(took) * 1000:.0f} ms on average; "
        f"read the whole history: {read:.2f} s ({len(whole.snapshots)} snapshots)"
    )


if __name__ == "__main__":
    main()
