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


class RowGuard(NamedTuple):
    """What must still hold when writing to a live sheet: each data row's key (ID, else
    name) as it was read, and the computed columns that may have gained a formula."""

    sheet: str
    key_col: int
    first_row: int  # 0-based, the first data row
    keys: dict[int, Any]  # 0-based row -> the key cell as read
    computed_cols: tuple[int, ...]


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

    def write(
        self, book: Any, writes: Sequence[CellWrite], guards: Sequence[RowGuard] = ()
    ) -> list[str]:
        """Write these cells, unless the source changed since `book` was read.

        Returns the problems found only now (computed cells that hold a formula, left
        alone). Raises SheetChangedError when the source changed, SourceError when it
        cannot be written.
        """
        ...

    def link(self, sheet: str, row: int, col: int = 0) -> str:
        """A link a person can follow to a cell (0-based row and column)."""
        ...
