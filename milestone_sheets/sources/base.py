"""The one interface every source (an Excel workbook, a Google Sheet) implements.

A `Source` is where a plan lives; `read()` takes a `Book`, a snapshot to compute from,
and the book writes computed cells back unless the source changed since it was read.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from milestone_sheets.changes import CellWrite, RowGuard
from milestone_sheets.domain import grid


class Book(grid.Book, Protocol):
    """A snapshot of a source: worksheet titles and grids, and the way back in."""

    def write(self, writes: Sequence[CellWrite], guards: Sequence[RowGuard]) -> list[str]:
        """Write these cells, unless the source changed since this snapshot was read.

        `guards` are the row keys as read, for a source that others edit live. Returns
        the problems found only now (computed cells that hold a formula, left alone).
        Raises SheetChangedError when the source changed, SourceError when it cannot be
        written.
        """
        ...


class Source(Protocol):
    """A spreadsheet the tool reads from and writes computed cells back into."""

    @property
    def location(self) -> str:
        """The path or URL, as messages show it."""
        ...

    @property
    def max_attempts(self) -> int:
        """How many times a sync reads again when the source changed under it."""
        ...

    def read(self) -> Book:
        """Open the source and take a snapshot to compute from."""
        ...

    def link(self, sheet: str, row: int, col: int = 0) -> str:
        """A link a person can follow to a cell (0-based row and column)."""
        ...

    def lock_path(self, state_dir: Path) -> Path:
        """The lock file every sync of this source holds, whichever config runs it."""
        ...

    def recover(self) -> None:
        """Tidy what a killed sync left behind; called with the lock held."""
        ...
