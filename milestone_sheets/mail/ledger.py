"""The ledger of sent mail: SQLite, one row per accepted message, committed at once.

SQLite's journal makes each record durable and atomic: a crash mid-write leaves the
ledger as it was before that record, never half-written.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

from milestone_sheets.errors import SourceError

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
"""


class Ledger:
    """What was sent: period (YYYY-MM), recipient (lowercased), kind, key, Message-ID, time."""

    def __init__(self, state_dir: Path):
        state_dir.mkdir(parents=True, exist_ok=True)
        self.path = state_dir / "sent.sqlite3"
        try:
            self.db = sqlite3.connect(self.path, isolation_level=None)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=FULL")
            self.db.executescript(SCHEMA)
        except sqlite3.Error as err:
            raise SourceError(f"{self.path}: cannot open the sent-mail ledger: {err}") from None

    def sent(self, kind: str, recipient: str, period: str, key: str = "") -> bool:
        """Was this message sent? Alerts are once per milestone and status, whatever the period."""
        if kind == "alert":
            query = "SELECT 1 FROM sent WHERE kind=? AND recipient=? AND key=? LIMIT 1"
            args: tuple[str, ...] = (kind, recipient.lower(), key)
        else:
            query = "SELECT 1 FROM sent WHERE kind=? AND recipient=? AND period=? AND key=? LIMIT 1"
            args = (kind, recipient.lower(), period, key)
        return self.db.execute(query, args).fetchone() is not None

    def record(
        self, kind: str, recipient: str, period: str, message_id: str, key: str = ""
    ) -> None:
        """Record one accepted message, durably, before the next is sent."""
        now = datetime.now(UTC).isoformat(timespec="seconds")
        self.db.execute(
            "INSERT INTO sent (period, recipient, kind, key, message_id, sent_at) VALUES (?, ?, ?, ?, ?, ?)",
            (period, recipient.lower(), kind, key, message_id, now),
        )

    def close(self) -> None:
        self.db.close()
