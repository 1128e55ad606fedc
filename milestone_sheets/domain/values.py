"""Parsing of cell values, per the spec's Values section. Pure functions, no I/O.

Each parser takes the raw cell value (as a source delivers it: str, int, float, bool,
date or datetime) and the field's label, and returns the parsed value or raises
`ValueProblem` with the message the Check column shows.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

NOT_GIVEN_TOKENS = frozenset({"", "-", "n/a", "na", "tbd", "?"})
SPREADSHEET_EPOCH = date(1899, 12, 30)  # serial day 0 in Excel (1900 system) and Sheets
MAX_SERIAL = 2958465  # 9999-12-31
# Past 15 significant digits a spreadsheet keeps no exact figure: no plan's money or
# metric is that large, and such a cell (1e308, an overflowing formula) is a typo.
MAX_NUMBER = 1e15


class ValueProblem(ValueError):
    """A cell value that does not parse; its text is the Check message."""


def folded(text: Any) -> str:
    """Text as a person means it when searching: no case, no accents, single spaces
    (José Núñez, jose nunez and JOSE  NUNEZ are one)."""
    decomposed = unicodedata.normalize("NFKD", str(text or ""))
    plain = "".join(char for char in decomposed if not unicodedata.combining(char))
    return " ".join(plain.casefold().split())


def is_not_given(value: Any) -> bool:
    """True for blank cells and the spec's "not given" tokens."""
    if value is None:
        return True
    if isinstance(value, str):
        return value.strip().lower() in NOT_GIVEN_TOKENS
    return False


def format_number(value: float | int | Decimal) -> str:
    """A number as a person would write it: 500, 12.5, -1234.75 (1e+300 when huge)."""
    if isinstance(value, bool):
        return str(value).upper()
    if isinstance(value, (int, float)) and not abs(value) < MAX_NUMBER:  # huge, inf, nan
        return f"{Decimal(value):.6g}" if isinstance(value, int) else f"{value:g}"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, Decimal):
        text = format(value.normalize(), "f")
        return text
    return str(value)


def amount(value: float | None, places: int | None = None) -> str:
    """A money amount or metric for display: 12,500 or 12,500.50; blank for None. With
    `places`, always that many decimals (one precision for a whole document)."""
    if value is None:
        return ""
    if places is None:
        places = 0 if float(value).is_integer() else 2
    return f"{value:,.{places}f}"


def money_places(values: Iterable[float | None]) -> int:
    """The decimals a plan's money is shown with: 2 when any amount has cents, else 0."""
    return 2 if any(v is not None and not float(v).is_integer() for v in values) else 0


def as_sheet_text(value: Any) -> str:
    """The value as it reads in the sheet, for messages."""
    if isinstance(value, (int, float, Decimal)) and not isinstance(value, bool):
        return format_number(value)
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return str(value).strip()


def parse_text(value: Any) -> str | None:
    """Text fields: trimmed text; numbers as written (7, not 7.0)."""
    if type(value) is str:  # the usual cell, trimmed once
        trimmed = value.strip()
        return None if trimmed.lower() in NOT_GIVEN_TOKENS else trimmed
    if is_not_given(value):
        return None
    return as_sheet_text(value)


_ISO = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})(?:[T ]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?$")
_SLASHED = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})(?: \d{1,2}:\d{2}(?::\d{2})?)?$")


def _date(year: int, month: int, day: int) -> date | None:
    """The date, or None for a well-formed but impossible one such as 31/02/2026."""
    try:
        return date(year, month, day)
    except ValueError:
        return None


def parse_date(value: Any, label: str, date_order: str = "DMY") -> date | None:
    """Dates: date cells, serial numbers, ISO text, and DD/MM/YYYY or MM/DD/YYYY text."""
    if is_not_given(value):
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if 1 <= value <= MAX_SERIAL:
            return SPREADSHEET_EPOCH + timedelta(days=int(value))
        raise ValueProblem(f"{label} {format_number(value)} is not a date")
    text = as_sheet_text(value)
    match = _ISO.match(text)
    if match:
        found = _date(*(int(part) for part in match.groups()))
        if found:
            return found
    match = _SLASHED.match(text)
    if match:
        first, second, year = (int(part) for part in match.groups())
        day, month = (first, second) if date_order == "DMY" else (second, first)
        found = _date(year, month, day)
        if found:
            return found
        other = "MDY" if date_order == "DMY" else "DMY"
        swapped = _date(year, day, month)
        if swapped:
            raise ValueProblem(
                f"{label} '{text}' is not a date in {date_order} order; in {other} order it "
                f'is {swapped.isoformat()} (set date_order = "{other}" in the config, or '
                "write dates as YYYY-MM-DD)"
            )
    raise ValueProblem(f"{label} '{text}' is not a date")


_CURRENCY_SIGNS = "$€£¥₹₽₩"
_MONEY = re.compile(
    r"^(?P<number>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?|\.\d+)\s*(?P<suffix>[km])?$",
    re.IGNORECASE,
)
_CURRENCY_CODE = re.compile(r"^[A-Za-z]{3}$")
_SUFFIX_FACTOR = {"k": Decimal(1000), "m": Decimal(1_000_000)}


def _strip_currency(text: str) -> str:
    """Remove one currency sign or ISO code at the start or end."""
    text = text.strip()
    if text and text[0] in _CURRENCY_SIGNS:
        return text[1:].strip()
    if text and text[-1] in _CURRENCY_SIGNS:
        return text[:-1].strip()
    head, _, rest = text.partition(" ")
    if rest and _CURRENCY_CODE.match(head):
        return rest.strip()
    rest, _, tail = text.rpartition(" ")
    if rest and _CURRENCY_CODE.match(tail):
        return rest.strip()
    if len(text) > 3 and _CURRENCY_CODE.match(text[:3]) and not text[:3].isdigit():
        candidate = text[3:].strip()
        if candidate[:1].isdigit() or candidate[:1] in "-.(":
            return candidate
    return text


def _parse_amount_text(text: str) -> Decimal | None:
    """The signed amount in a money string, or None when it is not one."""
    body = text.strip()
    negative = False
    if body.startswith("(") and body.endswith(")"):
        negative, body = True, body[1:-1].strip()
    if body.startswith("-"):
        negative, body = True, body[1:].strip()
    body = _strip_currency(body)
    if body.startswith("-"):
        negative, body = True, body[1:].strip()
    match = _MONEY.match(body)
    if not match:
        return None
    amount = Decimal(match["number"].replace(",", ""))
    if match["suffix"]:
        amount *= _SUFFIX_FACTOR[match["suffix"].lower()]
    return -amount if negative else amount


def parse_money(value: Any, label: str) -> float | None:
    """Money: non-negative numbers, or text such as `$12,500`, `12.5k`, `EUR 3M`."""
    if is_not_given(value):
        return None
    if isinstance(value, bool):
        raise ValueProblem(f"{label} '{as_sheet_text(value)}' is not an amount")
    if isinstance(value, (int, float)):
        number = _bounded(value, label)
        if number < 0:
            raise ValueProblem(f"{label} {format_number(value)} is negative")
        return number
    text = str(value).strip()
    amount = _parse_amount_text(text)
    if amount is None:
        raise ValueProblem(f"{label} '{text}' is not an amount")
    if amount < 0:
        raise ValueProblem(f"{label} {text} is negative")
    return _bounded(amount, label, text)


def _bounded(value: float | int | Decimal, label: str, shown: str | None = None) -> float:
    """The value as a float, if it is a finite number a plan can hold (`shown`: the
    cell's text in a message, else the number formatted)."""
    if -MAX_NUMBER < value < MAX_NUMBER:  # NaN fails this too
        return float(value)
    shown = format_number(value) if shown is None else shown
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueProblem(f"{label} {shown} is not a number (an error or overflow in the cell)")
    raise ValueProblem(f"{label} {shown} is too large (at most 15 digits)")


def parse_number(value: Any, label: str) -> float | None:
    """Plain numbers (metric target and result); may be negative."""
    if is_not_given(value):
        return None
    if isinstance(value, bool):
        raise ValueProblem(f"{label} '{as_sheet_text(value)}' is not a number")
    if isinstance(value, (int, float)):
        return _bounded(value, label)
    text = str(value).strip()
    amount = _parse_amount_text(text)
    if amount is None:
        raise ValueProblem(f"{label} '{text}' is not a number")
    return _bounded(amount, label, text)


_PERCENT = re.compile(r"^(-?\d+(?:\.\d+)?|-?\.\d+)\s*%$")
_NUMBER = re.compile(r"^-?\d+(?:\.\d+)?$|^-?\.\d+$")


def parse_fraction(value: Any, label: str) -> float | None:
    """Progress: 0..1 as given, `45%`, or a number in (1, 100] read as a percent."""
    if is_not_given(value):
        return None
    if isinstance(value, bool):
        raise ValueProblem(f"{label} '{as_sheet_text(value)}' is not a percentage")
    shown: str | None = None  # the cell's text; a number is formatted only for a message
    if isinstance(value, (int, float)):
        number = _bounded(value, label)
    else:
        text = str(value).strip()
        match = _PERCENT.match(text)
        if match:
            percent = float(match.group(1))
            if not 0 <= percent <= 100:
                raise ValueProblem(f"{label} {text} is outside 0..100%")
            return percent / 100
        if not _NUMBER.match(text):
            raise ValueProblem(f"{label} '{text}' is not a percentage")
        number, shown = float(text), text
    if 0 <= number <= 1:
        return number
    if 1 < number <= 100:
        return number / 100
    shown = format_number(value) if shown is None else shown
    raise ValueProblem(f"{label} {shown} is outside 0..100%")


_EMAIL = re.compile(r"^[^@\s,;<>\"]+@[^@\s,;<>\".]+(?:\.[^@\s,;<>\".]+)+$")


def parse_email(value: Any, label: str) -> str | None:
    """One address, local@domain.tld; refuses anything that could smuggle a header."""
    if is_not_given(value):
        return None
    raw = str(value)
    text = raw.strip()
    if "\n" in raw or "\r" in raw or not _EMAIL.match(text):
        shown = text.replace("\r", " ").replace("\n", " ")
        raise ValueProblem(f"{label} '{shown}' is not an email address")
    return text


def round_half_away(value: Decimal | float, places: int) -> float:
    """Round half away from zero, as the spec asks, exactly on the decimal value."""
    exact = value if isinstance(value, Decimal) else Decimal(repr(value))
    quantum = Decimal(1).scaleb(-places)
    return float(exact.quantize(quantum, rounding=ROUND_HALF_UP))


def to_decimal(value: float) -> Decimal:
    """The decimal a person typed, not the binary float's expansion."""
    return Decimal(repr(value))


_DONE_TRUE = frozenset({"true", "yes", "y", "x", "done", "1"})
_DONE_FALSE = frozenset({"false", "no", "n", "0"})


def parse_done(value: Any, label: str, date_order: str = "DMY") -> bool | date | None:
    """A task's Done: TRUE/FALSE, yes/no, x, or the completion date (which means done)."""
    if is_not_given(value):
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _DONE_TRUE | _DONE_FALSE:
        return value.strip().lower() in _DONE_TRUE
    try:
        return parse_date(value, label, date_order)
    except ValueProblem:
        raise ValueProblem(f"{label} '{as_sheet_text(value)}' is not yes, no or a date") from None


def round_float(value: float, places: int) -> float | None:
    """Round half away from zero, fast on floats; None when the float is too close to a
    half for its binary error to be ignored (the caller then rounds the exact decimal)."""
    scaled = abs(value) * 10**places
    whole = math.floor(scaled)
    if abs(scaled - whole - 0.5) <= 1e-9 * (scaled if scaled > 1.0 else 1.0):
        return None
    rounded = whole + 1 if scaled - whole > 0.5 else whole
    if rounded == 0:
        return 0.0
    return (rounded if value > 0 else -rounded) / 10**places


_PARSERS: dict[str, Callable[[Any, str, str], Any]] = {
    "text": lambda cell, label, order: parse_text(cell),
    "date": parse_date,
    "money": lambda cell, label, order: parse_money(cell, label),
    "number": lambda cell, label, order: parse_number(cell, label),
    "fraction": lambda cell, label, order: parse_fraction(cell, label),
    "email": lambda cell, label, order: parse_email(cell, label),
    "done": parse_done,
}


def parse_column(
    kind: str, cells: Sequence[Any], label: str, date_order: str = "DMY"
) -> tuple[list[Any], dict[int, str]]:
    """Parse a whole column: the values, and the problem message by position."""
    parse = _PARSERS[kind]
    values: list[Any] = []
    problems: dict[int, str] = {}
    # A column repeats itself (owners, teams, dates, progress steps): each distinct cell
    # is parsed once. The key holds the type, since equal values of different types read
    # differently (True == 1 == 1.0); a float zero is parsed each time, as -0.0 == 0.0.
    seen: dict[tuple[type, Any], tuple[Any, str | None]] = {}
    text = kind == "text"
    for index, cell in enumerate(cells):
        if cell is None:
            values.append(None)
            continue
        if text and type(cell) is str:  # not cached: IDs and names rarely repeat
            values.append(parse_text(cell))
            continue
        key = (type(cell), cell)
        known = seen.get(key) if cell != 0.0 or type(cell) is not float else None
        if known is None:
            try:
                known = (parse(cell, label, date_order), None)
            except ValueProblem as problem:
                known = (None, str(problem))
            seen[key] = known
        values.append(known[0])
        if known[1] is not None:
            problems[index] = known[1]
    return values, problems
