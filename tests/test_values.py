"""The spec's Values section, one example per rule."""

import re
from datetime import date, datetime

import pytest

from milestone_sheets.domain import values as v


@pytest.mark.parametrize("raw", [None, "", "  ", "-", "n/a", "N/A", "na", "TBD", "?"])
def test_not_given_tokens(raw):
    assert v.is_not_given(raw)
    assert v.parse_date(raw, "Due") is None
    assert v.parse_money(raw, "Budget") is None


@pytest.mark.parametrize(
    ("raw", "order", "expected"),
    [
        (date(2026, 5, 1), "DMY", date(2026, 5, 1)),
        (datetime(2026, 5, 1, 17, 30), "DMY", date(2026, 5, 1)),
        (46143, "DMY", date(2026, 5, 1)),
        (46143.75, "DMY", date(2026, 5, 1)),
        ("2026-05-01", "MDY", date(2026, 5, 1)),
        ("2026-05-01 09:15", "DMY", date(2026, 5, 1)),
        ("2026-05-01T09:15:00", "DMY", date(2026, 5, 1)),
        ("03/04/2026", "DMY", date(2026, 4, 3)),
        ("03/04/2026", "MDY", date(2026, 3, 4)),
        ("31/12/2026 10:00", "DMY", date(2026, 12, 31)),
    ],
)
def test_dates(raw, order, expected):
    assert v.parse_date(raw, "Due", order) == expected


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("next friday", "Due 'next friday' is not a date"),
        ("31/02/2026", "Due '31/02/2026' is not a date"),
        (
            "12/31/2026",
            "Due '12/31/2026' is not a date in DMY order; in MDY order it is "
            '2026-12-31 (set date_order = "MDY" in the config, or write dates as '
            "YYYY-MM-DD)",
        ),  # DMY: there is no month 31; MDY reads it
        (-5, "Due -5 is not a date"),
        (True, "Due 'TRUE' is not a date"),
    ],
)
def test_bad_dates(raw, message):
    with pytest.raises(v.ValueProblem, match="^" + re.escape(message) + "$"):
        v.parse_date(raw, "Due", "DMY")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (12500, 12500.0),
        (0, 0.0),
        ("$12,500", 12500.0),
        ("12.5k", 12500.0),
        ("12.5K", 12500.0),
        ("EUR 3M", 3_000_000.0),
        ("3m EUR", 3_000_000.0),
        ("€1,250.50", 1250.5),
        ("1,234,567", 1234567.0),
        ("  800 ", 800.0),
        ("USD1,000", 1000.0),
    ],
)
def test_money(raw, expected):
    assert v.parse_money(raw, "Budget") == expected


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("lots", "Budget 'lots' is not an amount"),
        ("12,5", "Budget '12,5' is not an amount"),
        (-500, "Budget -500 is negative"),
        (-500.5, "Budget -500.5 is negative"),
        ("-500", "Budget -500 is negative"),
        ("(500)", "Budget (500) is negative"),
        ("-$1,200", "Budget -$1,200 is negative"),
        (True, "Budget 'TRUE' is not an amount"),
    ],
)
def test_bad_money(raw, message):
    with pytest.raises(v.ValueProblem) as caught:
        v.parse_money(raw, "Budget")
    assert str(caught.value) == message


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (0, 0.0),
        (0.45, 0.45),
        (1, 1.0),
        ("45%", 0.45),
        ("0.3", 0.3),
        (45, 0.45),
        (100, 1.0),
        ("80", 0.8),
    ],
)
def test_fraction(raw, expected):
    assert v.parse_fraction(raw, "Progress") == pytest.approx(expected)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (150, "Progress 150 is outside 0..100%"),
        (-0.1, "Progress -0.1 is outside 0..100%"),
        ("150%", "Progress 150% is outside 0..100%"),
        ("half", "Progress 'half' is not a percentage"),
    ],
)
def test_bad_fraction(raw, message):
    with pytest.raises(v.ValueProblem) as caught:
        v.parse_fraction(raw, "Progress")
    assert str(caught.value) == message


@pytest.mark.parametrize("raw", ["ana@example.com", " ana.garcia+plan@mail.example.co.uk "])
def test_email(raw):
    assert v.parse_email(raw, "Email") == raw.strip()


@pytest.mark.parametrize(
    "raw",
    [
        "x",
        "ana@example",
        "ana@@example.com",
        "Ana <ana@example.com>",
        "ana@example.com, ben@example.com",
        "ana@example.com;ben@example.com",
        "ana@example.com\nBcc: victim@example.com",
        "ana @example.com",
    ],
)
def test_bad_email(raw):
    with pytest.raises(v.ValueProblem, match="is not an email address"):
        v.parse_email(raw, "Email")


def test_bad_email_message_names_the_value():
    with pytest.raises(v.ValueProblem) as caught:
        v.parse_email("x", "Email")
    assert str(caught.value) == "Email 'x' is not an email address"


def test_text_keeps_numbers_as_written():
    assert v.parse_text(7.0) == "7"
    assert v.parse_text(7.5) == "7.5"
    assert v.parse_text("  M7 ") == "M7"


@pytest.mark.parametrize(
    ("value", "places", "expected"),
    [(0.25, 1, 0.3), (-0.25, 1, -0.3), (12.345, 2, 12.35), (-12.345, 2, -12.35), (2.675, 2, 2.68)],
)
def test_round_half_away_from_zero(value, places, expected):
    assert v.round_half_away(value, places) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (True, True),
        ("yes", True),
        ("x", True),
        ("FALSE", False),
        ("no", False),
        ("2026-05-01", date(2026, 5, 1)),
    ],
)
def test_task_done(raw, expected):
    assert v.parse_done(raw, "Done") == expected


# Every kind of cell a source can deliver, for checking the column parser against the
# scalar one: the fast paths must give exactly the same values and messages.
MIXED_CELLS = [
    None, "", " ", "  -  ", "n/a", "TBD", "?", "abc", "  padded  ", "Done", "Marketing & Sales",
    0, 5, -3, 0.0, 0.5, 1.0, 1.5, 45.0, 100.0, 150.0, -0.25, 12500.75, float("nan"),
    True, False, date(2026, 3, 1), datetime(2026, 3, 1, 14, 30),
    "2026-01-02", "02/01/2026", "31/02/2026", "next friday", "45%", "0.4", "150%",
    "$12,500", "12.5k", "EUR 3M", "(200)", "-5", "a@b.co", " a@b.co ", "bad@", "a@b.co\nBcc: x@y.z",
    "yes", "No", "x", "done",
]  # fmt: skip


def _scalar(kind: str, cell, label: str):
    parsers = {
        "text": lambda c: v.parse_text(c),
        "date": lambda c: v.parse_date(c, label),
        "money": lambda c: v.parse_money(c, label),
        "number": lambda c: v.parse_number(c, label),
        "fraction": lambda c: v.parse_fraction(c, label),
        "email": lambda c: v.parse_email(c, label),
        "done": lambda c: v.parse_done(c, label),
    }
    try:
        return parsers[kind](cell), None
    except v.ValueProblem as problem:
        return None, str(problem)


@pytest.mark.parametrize("kind", ["text", "date", "money", "number", "fraction", "email", "done"])
def test_column_parser_matches_the_scalar_parsers(kind):
    values, problems = v.parse_column(kind, list(MIXED_CELLS), "Field")
    for index, cell in enumerate(MIXED_CELLS):
        expected, message = _scalar(kind, cell, "Field")
        got = values[index]
        assert (got, problems.get(index)) == (expected, message) or (
            got != got and expected != expected  # NaN stays NaN
        ), f"{kind} {cell!r}"
        assert type(got) is type(expected), f"{kind} {cell!r}"
