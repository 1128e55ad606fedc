"""The one small interface every source (Excel, Google Sheets) implements."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple, Protocol

from milestone_sheets.model import SheetGrid
from milestone_sheets.sources.sheetxml import CellValue


class CellWrite(NamedTuple):
    """One computed cell to write (0-based row and column).

    `old` is what the sheet held, for dry runs; `style_like` names a column in the same
    row whose look a new cell should take (used for added header cells).
    """

    sheet: str
    row: int
    col: int
    value: CellValue
    old: Any = None
    style_like: int | None = None


class Book(Protocol):
    """What a source read: its worksheet titles and their grids."""

    @property
    def titles(self) -> Sequence[str]: ...

    def grids(self, titles: Sequence[str]) -> Mapping[str, SheetGrid]:
        """The grids of these worksheets, read together."""
        ...


class Source(Protocol):
    """A spreadsheet the tool reads from and writes computed cells back into."""

    location: str

    def read(self) -> Book:
        """Open the source and take a snapshot to compute from."""
        ...

    def write(self, book: Book, writes: Sequence[CellWrite]) -> None:
        """Write these cells, unless the source changed since `book` was read.

        Raises SheetChangedError when it did, SourceError when it cannot write.
        """
        ...

    def link(self, sheet: str, row: int, col: int = 0) -> str:
        """A link a person can follow to a cell (0-based row and column)."""
        ...
