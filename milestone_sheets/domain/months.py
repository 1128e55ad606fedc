"""Calendar months, the unit of the monthly review."""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True)
class Month:
    """A calendar month: `Month(2026, 6)` is June 2026."""

    year: int
    month: int

    @classmethod
    def parse(cls, text: str) -> Month:
        """`2026-06` to a Month; ValueError for anything else."""
        year, _, month = text.partition("-")
        value = cls(int(year), int(month))
        if not 1 <= value.month <= 12:
            raise ValueError(text)
        return value

    @classmethod
    def of(cls, day: date) -> Month:
        """The month a day falls in."""
        return cls(day.year, day.month)

    @property
    def first(self) -> date:
        return date(self.year, self.month, 1)

    @property
    def last(self) -> date:
        return date(self.year, self.month, calendar.monthrange(self.year, self.month)[1])

    def next(self) -> Month:
        return Month(self.year + self.month // 12, self.month % 12 + 1)

    def __str__(self) -> str:
        return f"{calendar.month_name[self.month]} {self.year}"

    @property
    def key(self) -> str:
        """`2026-06`."""
        return f"{self.year:04d}-{self.month:02d}"
