"""The history store: what each sync saw of each milestone, and the baselines.

SQLite in the state folder (`history.sqlite3`, private to the user, WAL). A sync adds a
snapshot, one row per milestone, only when something it read or computed differs from
the last snapshot of that source; a dry run adds nothing. A milestone's baseline (due
date and budget) is the first one recorded, until `baseline --reset` sets it anew.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from pathlib import Path

from milestone_sheets.domain.drift import Baseline, Past, Seen, Snapshot
from milestone_sheets.errors import SourceError
from milestone_sheets.files import open_database, timestamp

HISTORY_NAME = "history.sqlite3"

# The store's user_version numbers the schema (open_database sets it), so that a later
# release can migrate an older store.
SCHEMA_VERSION = 1
SCHEMA = """
CREATE TABLE IF NOT EXISTS syncs (
    id INTEGER PRIMARY KEY,
    source TEXT NOT NULL,
    as_of TEXT NOT NULL,
    synced_at TEXT NOT NULL,
    digest TEXT NOT NULL  -- of its rows: a sync that would repeat the last one adds nothing
);
CREATE INDEX IF NOT EXISTS syncs_of_source ON syncs (source, as_of);
CREATE TABLE IF NOT EXISTS seen (
    sync INTEGER NOT NULL REFERENCES syncs (id),
    key TEXT NOT NULL,
    row INTEGER NOT NULL,
    id TEXT NOT NULL,
    name TEXT NOT NULL,
    owner TEXT NOT NULL,
    email TEXT NOT NULL,
    status TEXT NOT NULL,
    due TEXT,
    start TEXT,
    completed TEXT,
    budget REAL,
    actual REAL,
    progress REAL,
    PRIMARY KEY (sync, key)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS baselines (
    source TEXT NOT NULL,
    key TEXT NOT NULL,
    due TEXT,
    budget REAL,
    set_on TEXT NOT NULL,
    PRIMARY KEY (source, key)
) WITHOUT ROWID;
"""

_COLUMNS = Seen._fields  # key, row, id, name, owner, email, status, due, start, completed, ...
_DATES = frozenset({"due", "start", "completed"})


class HistoryError(SourceError):
    """The history store cannot be read or written (exit 3)."""


def _iso(day: date | None) -> str | None:
    return None if day is None else day.isoformat()


def _row(seen: Seen) -> tuple[object, ...]:
    """A Seen as the store's row, in _COLUMNS order (the tuple's own, dates as text)."""
    return (*seen[:7], _iso(seen.due), _iso(seen.start), _iso(seen.completed), *seen[10:])


def _seen(row: Sequence[object]) -> Seen:
    values = {
        name: date.fromisoformat(str(value)) if name in _DATES and value is not None else value
        for name, value in zip(_COLUMNS, row, strict=True)
    }
    return Seen(**values)  # type: ignore[arg-type]


class History:
    """The history store of a state folder; `source` everywhere is a source's identity
    (`sources.identity`)."""

    def __init__(self, state_dir: Path):
        self.path = state_dir / HISTORY_NAME
        try:
            self.db = open_database(self.path, SCHEMA, SCHEMA_VERSION)
        except (sqlite3.Error, OSError) as err:
            raise HistoryError(f"{self.path}: cannot open the history store: {err}") from None

    def _error(self, err: sqlite3.Error) -> HistoryError:
        return HistoryError(f"{self.path}: cannot use the history store: {err}")

    def past(self, source: str, *, snapshots: bool = True) -> Past:
        """The source's snapshots, oldest first, and its baselines; without `snapshots`,
        the baselines only (all a sync needs)."""
        try:
            syncs = self.db.execute(
                "SELECT id, as_of, synced_at FROM syncs WHERE source=? ORDER BY as_of, id",
                (source,),
            ).fetchall() if snapshots else []  # fmt: skip
            by_sync: dict[int, dict[str, Seen]] = {sync_id: {} for sync_id, _, _ in syncs}
            rows = self.db.execute(
                f"SELECT sync, {', '.join(_COLUMNS)} FROM seen WHERE sync IN "
                "(SELECT id FROM syncs WHERE source=?) ORDER BY sync, row",
                (source,),
            ) if snapshots else []  # fmt: skip
            for sync_id, *values in rows:
                seen = _seen(values)
                by_sync[sync_id][seen.key] = seen
            baselines = {
                key: Baseline(
                    date.fromisoformat(due) if due else None, budget, date.fromisoformat(set_on)
                )
                for key, due, budget, set_on in self.db.execute(
                    "SELECT key, due, budget, set_on FROM baselines WHERE source=?", (source,)
                )
            }
        except sqlite3.Error as err:
            raise self._error(err) from None
        found = [
            Snapshot(date.fromisoformat(as_of), synced_at, by_sync[sync_id])
            for sync_id, as_of, synced_at in syncs
        ]
        return Past(found, baselines)

    def record(
        self,
        source: str,
        as_of: date,
        milestones: Mapping[str, Seen],
        baselines: Mapping[str, Baseline] | None = None,
    ) -> bool:
        """Add a snapshot unless it holds what the source's last one does; set the
        baselines of milestones that have none (`baselines`: those the source is known to
        have, as `past` read them, which need no look). In one transaction. Whether it
        added one."""
        # Each row is made twice (for the digest, then for the insert), never all held
        # at once: 100,000 of them would add a tenth to a large sync's peak memory.
        digest = hashlib.sha256()
        for seen in milestones.values():
            digest.update(repr(_row(seen)).encode())
        try:
            last = self.db.execute(
                "SELECT digest FROM syncs WHERE source=? ORDER BY as_of DESC, id DESC LIMIT 1",
                (source,),
            ).fetchone()
        except sqlite3.Error as err:
            raise self._error(err) from None
        if last is not None and last[0] == digest.hexdigest():
            return False
        try:
            with self.db:
                self.db.execute("BEGIN IMMEDIATE")
                sync_id = self.db.execute(
                    "INSERT INTO syncs (source, as_of, synced_at, digest) VALUES (?, ?, ?, ?)",
                    (source, as_of.isoformat(), timestamp(), digest.hexdigest()),
                ).lastrowid
                self.db.executemany(
                    f"INSERT INTO seen (sync, {', '.join(_COLUMNS)}) "
                    f"VALUES (?, {', '.join('?' for _ in _COLUMNS)})",
                    ((sync_id, *_row(seen)) for seen in milestones.values()),
                )
                known = baselines or {}
                self._first_baselines(source, as_of, (
                    seen for seen in milestones.values()
                    if (base := known.get(seen.key)) is None or base.due is None or base.budget is None
                ))  # fmt: skip
        except sqlite3.Error as err:
            raise self._error(err) from None
        return True

    def _first_baselines(self, source: str, as_of: date, milestones: Iterable[Seen]) -> None:
        """A baseline's due date and budget are each the first valid one recorded."""
        self.db.executemany(
            "INSERT INTO baselines (source, key, due, budget, set_on) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (source, key) DO UPDATE SET due=coalesce(due, excluded.due), "
            "budget=coalesce(budget, excluded.budget) WHERE due IS NULL OR budget IS NULL",
            ((source, seen.key, _iso(seen.due), seen.budget, as_of.isoformat())
             for seen in milestones if seen.status != "Invalid"),
        )  # fmt: skip

    def reset_baselines(self, source: str, as_of: date, milestones: Iterable[Seen]) -> int:
        """Make these milestones' current due date and budget their baseline (the plan
        was approved again); how many were set."""
        rows = [
            (source, seen.key, _iso(seen.due), seen.budget, as_of.isoformat())
            for seen in milestones
        ]  # fmt: skip
        try:
            with self.db:
                self.db.execute("BEGIN IMMEDIATE")
                self.db.executemany(
                    "INSERT OR REPLACE INTO baselines (source, key, due, budget, set_on) "
                    "VALUES (?, ?, ?, ?, ?)",
                    rows,
                )
        except sqlite3.Error as err:
            raise self._error(err) from None
        return len(rows)

    def close(self) -> None:
        self.db.close()


def read_past(state_dir: Path, source: str) -> Past:
    """The source's history for a command that only reads: empty when no sync has kept
    one yet (nothing is created)."""
    if not (state_dir / HISTORY_NAME).exists():
        return Past()
    history = History(state_dir)
    try:
        return history.past(source)
    finally:
        history.close()
