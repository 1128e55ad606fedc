"""What the domain reads: a worksheet's cells as a grid, and a book of worksheets."""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

Area = tuple[int, int, int, int]  # 0-based inclusive: first row, first col, last row, last col


def area_ref(area: Area) -> str:
    """A1:B2 for an area."""
    return f"{cell_ref(area[0], area[1])}:{cell_ref(area[2], area[3])}"


@dataclass(frozen=True)
class SheetGrid:
    """One worksheet's values as a source read them.

    `rows[r][c]` is the cell at 0-based row r, column c (rows may be ragged; a missing
    cell is blank). `formula_cells` are the cells that hold a formula, and
    `uncached_cells` those of them saved without a computed value. `merged` are the merged
    ranges and `tables` the ranges of the sheet's own tables (an Excel table), each as
    0-based inclusive (first row, first column, last row, last column).

    The rows are kept as tuples, whatever the source gave: a grid is never changed, and
    the garbage collector stops scanning a tuple of plain values after its first pass,
    while it scans every list, cell by cell, on every full pass.
    """

    title: str
    rows: Sequence[Sequence[Any]]
    formula_cells: frozenset[tuple[int, int]] = frozenset()
    uncached_cells: frozenset[tuple[int, int]] = frozenset()
    merged: tuple[Area, ...] = ()
    tables: tuple[Area, ...] = ()

    def __post_init__(self) -> None:
        # In place, in the list the source made (the grid owns it), so that the lists
        # are freed one by one and the rows are never held twice.
        rows = self.rows if isinstance(self.rows, list) else list(self.rows)
        for index, cells in enumerate(rows):
            if type(cells) is not tuple:
                rows[index] = tuple(cells)
        object.__setattr__(self, "rows", rows)

    def merge_at(self, row: int, col: int) -> Area | None:
        """The merged range the cell lies in, if any."""
        for area in self.merged:
            if area[0] <= row <= area[2] and area[1] <= col <= area[3]:
                return area
        return None

    def cell(self, row: int, col: int) -> Any:
        """The cell's value, None when blank or outside the grid."""
        if row >= len(self.rows):
            return None
        cells = self.rows[row]
        value = cells[col] if col < len(cells) else None
        return None if value == "" else value


class Book(Protocol):
    """A snapshot of a spreadsheet: its worksheet titles and their grids."""

    @property
    def titles(self) -> Sequence[str]:
        """The worksheet titles, in the spreadsheet's order."""
        ...

    @property
    def preferred_title(self) -> str | None:
        """The worksheet the location itself points at (a Google Sheets gid), if any."""
        ...

    def grids(self, titles: Sequence[str]) -> Mapping[str, SheetGrid]:
        """The grids of these worksheets, read together."""
        ...


@functools.lru_cache(maxsize=1 << 14)  # a sheet has few distinct columns
def column_letter(col: int) -> str:
    """0-based column index to its letters: 0 -> A, 26 -> AA."""
    letters = ""
    col += 1
    while col:
        col, rem = divmod(col - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


def column_index(letters: str) -> int:
    """Column letters to a 0-based index: A -> 0, AA -> 26."""
    index = 0
    for char in letters.upper():
        index = index * 26 + ord(char) - 64
    return index - 1


def cell_ref(row: int, col: int) -> str:
    """0-based row and column to an A1 reference."""
    return f"{column_letter(col)}{row + 1}"
