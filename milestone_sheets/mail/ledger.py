"""The ledger of sent mail: SQLite, private to the user, each record committed at once.

Before a message goes to the server its intent is recorded (`begin`); when the server
accepts it, the intent becomes a sent record in the same transaction (`sent_now`). A run
killed in between leaves the intent, and the next run sends that message again with the
same Message-ID, so that a copy the server had already accepted is recognisably the same
message. SQLite's journal makes each record durable and atomic.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from milestone_sheets.errors import SourceError
from milestone_sheets.files import open_database, timestamp

SCHEMA = """
CREATE TABLE IF NOT EXISTS sent (
    period TEXT NOT NULL,
    recipient TEXT NOT NULL,
    kind TEXT NOT NULL,
    key TEXT NOT NULL DEFAULT '',
    message_id TEXT NOT NULL,
    sent_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS sent_lookup ON sent (kind, recipient, period, key);
CREATE TABLE IF NOT EXISTS sending (
    period TEXT NOT NULL,
    recipient TEXT NOT NULL,
    kind TEXT NOT NULL,
    key TEXT NOT NULL DEFAULT '',
    message_id TEXT NOT NULL,
    started_at TEXT NOT NULL,
    PRIMARY KEY (kind, recipient, period, key)
);
"""


class LedgerError(SourceError):
    """The ledger cannot be read or written: sending stops at once (exit 3)."""


class Ledger:
    """What was sent: period (YYYY-MM), recipient (lowercased), kind, key, Message-ID, time."""

    def __init__(self, state_dir: Path):
        self.path = state_dir / "sent.sqlite3"
        try:
            self.db = open_database(self.path, SCHEMA)
        except (sqlite3.Error, OSError) as err:
            raise LedgerError(f"{self.path}: cannot open the sent-mail ledger: {err}") from None

    def _run(self, query: str, args: tuple[str, ...]) -> sqlite3.Cursor:
        try:
            return self.db.execute(query, args)
        except sqlite3.Error as err:
            raise LedgerError(
                f"{self.path}: cannot write the sent-mail ledger ({err}); sending stopped so "
                "that nothing is sent twice. Fix the cause (disk space, permissions) and run "
                "again: what was sent is recorded."
            ) from None

    def sent(self, kind: str, recipient: str, period: str, key: str = "") -> bool:
        """Was this message sent? Alerts are once per milestone and status, whatever the period."""
        if kind == "alert":
            query = "SELECT 1 FROM sent WHERE kind=? AND recipient=? AND key=? LIMIT 1"
            args: tuple[str, ...] = (kind, recipient.lower(), key)
        else:
            query = "SELECT 1 FROM sent WHERE kind=? AND recipient=? AND period=? AND key=? LIMIT 1"
            args = (kind, recipient.lower(), period, key)
        return self._run(query, args).fetchone() is not None

    def times_sent(self, kind: str, recipient: str, period: str, key: str = "") -> int:
        query = "SELECT COUNT(*) FROM sent WHERE kind=? AND recipient=? AND period=? AND key=?"
        return int(self._run(query, (kind, recipient.lower(), period, key)).fetchone()[0])

    def interrupted(self, kind: str, recipient: str, period: str, key: str = "") -> bool:
        """Did a run begin sending this message and stop before its record?"""
        query = "SELECT 1 FROM sending WHERE kind=? AND recipient=? AND period=? AND key=?"
        return self._run(query, (kind, recipient.lower(), period, key)).fetchone() is not None

    def begin(self, kind: str, recipient: str, period: str, message_id: str, key: str = "") -> None:
        """Record the intent to send, durably, before the message goes to the server."""
        self._run(
            "INSERT OR REPLACE INTO sending (period, recipient, kind, key, message_id, started_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (period, recipient.lower(), kind, key, message_id, timestamp()),
        )

    def sent_now(
        self, kind: str, recipient: str, period: str, message_id: str, key: str = ""
    ) -> None:
        """The server accepted the message: its intent becomes a record, in one transaction."""
        recipient = recipient.lower()
        try:
            with self.db:
                self.db.execute("BEGIN IMMEDIATE")
                self.db.execute(
                    "INSERT INTO sent (period, recipient, kind, key, message_id, sent_at) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    (period, recipient, kind, key, message_id, timestamp()),
                )
                self.db.execute(
                    "DELETE FROM sending WHERE kind=? AND recipient=? AND period=? AND key=?",
                    (kind, recipient, period, key),
                )
        except sqlite3.Error as err:
            raise LedgerError(
                f"{self.path}: cannot record a message the server accepted ({err}); sending "
                "stopped. The next run sends that one message again, with the same Message-ID."
            ) from None

    def close(self) -> None:
        self.db.close()
