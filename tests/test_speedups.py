"""The C loops give what the Python ones give: the worksheet editor's bytes on any sheet,
the formula scan's cells, and the parser's columns.

`milestone_sheets/_speedups.c` takes the rows it knows and gives every other row back to
the Python loop in `sources/sheetxml.py`, which stays the reference. Each case here edits
the same random worksheet with and without the C loop and compares the results byte for
byte, and the errors (a formula cell, a boolean) by type and message.
"""

from __future__ import annotations

import datetime as dt
import math
import os
import random
import re

import pytest
from test_sheetxml_random import random_case

from milestone_sheets import model, speedups
from milestone_sheets.sources import sheetxml
from milestone_sheets.sources.sheetxml import CellEdit, rewrite_sheet

needs_c_loop = pytest.mark.skipif(
    sheetxml._speedups is None,
    reason="the C row loop is off or not built (test_c_loop_is_built tells which)",
)


def test_c_loop_is_built():
    """On this project's machines the extension must build: a CI run without it would
    test and measure only the Python loop. MILESTONE_SHEETS_PURE_PYTHON=1 turns it off."""
    if os.environ.get("MILESTONE_SHEETS_PURE_PYTHON"):
        assert sheetxml._speedups is None
    else:
        assert sheetxml._speedups is not None, "milestone_sheets._speedups did not build"


def edited(chunks, edits, c_loop: bool, monkeypatch) -> bytes | tuple[type, str]:
    """The edited part, or the error raised (type and message)."""
    with monkeypatch.context() as patch:
        if not c_loop:
            patch.setattr(sheetxml, "_speedups", None)
        try:
            return b"".join(rewrite_sheet(iter(chunks), edits))
        except (sheetxml.SheetXmlError, TypeError) as err:
            return type(err), str(err)


def with_prefix(data: bytes) -> bytes:
    """The same sheet with its elements in a prefixed namespace (`x:row`), as some
    writers save."""
    data = data.replace(b'<worksheet xmlns="', b'<x:worksheet xmlns:x="')
    return re.sub(rb"<(/?)(?![?x]:?)(?=[a-zA-Z])(?!x14ac)", rb"<\1x:", data)


def more_edits(rng: random.Random, edits: dict, data: bytes) -> dict:
    """Edits the random cases rarely make: into formula cells, values of other types,
    empty rows, far columns, many cells in a row."""
    rows = [int(r) for r in re.findall(rb'<(?:x:)?row r="(\d+)"', data)]
    formulas = [
        (int(row), sheetxml._column_of(letters))
        for letters, row in re.findall(rb'<(?:x:)?c r="([A-Z]+)(\d+)"[^>]*><(?:x:)?f>', data)
    ]
    pick = rng.random()
    if pick < 0.1 and formulas:
        row, col = rng.choice(formulas)
        edits.setdefault(row, {})[col] = CellEdit(col, 1.5)
    elif pick < 0.2 and rows:
        row = rng.choice(rows)
        value = rng.choice([True, 3.0, "x"])

        class Number(float):
            pass

        value = Number(2.25) if value == 3.0 else value
        edits.setdefault(row, {})[20] = CellEdit(20, value)
    elif pick < 0.3 and rows:
        row = rng.choice(rows)
        edits[row] = {col: CellEdit(col, float(col)) for col in range(0, 80, 3)}
    elif pick < 0.4 and rows:
        row = rng.choice(rows)
        edits.setdefault(row, {})[16383] = CellEdit(16383, "far right")
    return dict(sorted(edits.items()))


@needs_c_loop
@pytest.mark.parametrize("seed", range(400))
def test_c_loop_gives_the_python_bytes(seed, monkeypatch):
    rng = random.Random(seed)
    _, _, edits, data, chunks = random_case(rng)
    if seed % 3 == 1:
        data = with_prefix(data)
        assert b"<x:row" in data or b"<row" not in data
    edits = more_edits(rng, edits, data)
    cuts = sorted(rng.sample(range(1, len(data)), min(4, len(data) - 1)))
    chunks = [data[a:b] for a, b in zip([0, *cuts], [*cuts, len(data)], strict=True)]
    python = edited(chunks, edits, False, monkeypatch)
    c_loop = edited(chunks, edits, True, monkeypatch)
    assert c_loop == python


def sync_like_sheet(rows: int, spans: bool, computed: bool) -> bytes:
    """A sheet as a sync sees it: 14 field cells a row, and 4 computed ones after a first
    sync (some rows without Days late, as On track rows have none)."""
    parts = [sheetxml_head()]
    for row in range(1, rows + 1):
        span = f' spans="1:{18 if computed else 14}"' if spans else ""
        cells = [
            f'<c r="{chr(65 + col)}{row}" s="{col % 3}"><v>{row * col}</v></c>' for col in range(14)
        ]
        if computed:
            cells.append(f'<c r="O{row}" t="inlineStr"><is><t>On track</t></is></c>')
            if row % 4:
                cells.append(f'<c r="P{row}" s="2"><v>{row % 9}</v></c>')
            cells.append(f'<c r="Q{row}"><v>{row / 7!r}</v></c>')
            cells.append(f'<c r="R{row}"><v>1.5</v></c>')
        parts.append(f'<row r="{row}"{span}>' + "".join(cells) + "</row>")
    parts.append("</sheetData></worksheet>")
    return "".join(parts).encode()


def sheetxml_head() -> str:
    ns = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
    return f'<worksheet xmlns="{ns}"><dimension ref="A1:N9"/><sheetData>'


@needs_c_loop
@pytest.mark.parametrize("spans", [False, True])
@pytest.mark.parametrize("computed", [False, True], ids=["first sync", "weekly sync"])
def test_c_loop_on_a_sync_like_sheet(spans, computed, monkeypatch):
    """The rows a sync edits: new computed cells at each row's end, or values changed,
    inserted (Days late) and cleared in place; every one of them taken by C."""
    rng = random.Random(7)
    data = sync_like_sheet(3000, spans, computed)
    edits = {}
    for row in range(2, 3001):
        if computed and rng.random() < 0.3:
            continue  # nothing changed in this row
        values = {
            14: rng.choice(["Overdue", "On track", "Done"]),
            15: rng.choice([None, 3, 12]),
            16: rng.random() * 100,
            17: None if rng.random() < 0.2 else -2.5,
        }
        edits[row] = {col: CellEdit(col, value) for col, value in values.items()}
    edits[1] = {col: CellEdit(col, "Header", style_like=0) for col in range(14, 18)}
    chunks = [data[i : i + 65536] for i in range(0, len(data), 65536)]
    calls = []
    real = sheetxml._speedups.edit_rows

    def counted(*args):
        result = real(*args)
        calls.append(result[5])
        return result

    monkeypatch.setattr(sheetxml._speedups, "edit_rows", counted)
    c_loop = edited(chunks, edits, True, monkeypatch)
    python = edited(chunks, edits, False, monkeypatch)
    assert c_loop == python
    assert isinstance(c_loop, bytes) and c_loop != data
    # Only the header row, with its styled header cells, went to Python.
    assert calls.count(False) == 1


FORMULA_CELLS = [
    '<c r="{ref}"><f>A1*2</f><v>4</v></c>',
    '<c r="{ref}" s="3"><f t="shared" ref="Q2:Q9" si="0">K2/30</f><v>1.5</v></c>',
    '<c r="{ref}"><f t="shared" si="0"/><v>2</v></c>',
    '<c r="{ref}">\n  <f>A1</f>\n  <v>7</v>\n</c>',
    '<c r="{ref}"><f>A1</f></c>',
    '<c r="{ref}"><f>A1</f><v></v></c>',
    '<c r="{ref}"><f>A1</f><v/></c>',
    '<c r="{ref}" t="str"><f>""</f><v></v></c>',
    '<c r="{ref}" t="str"><f>B1</f><v>text</v></c>',
    "<c><f>A1</f><v>3</v></c>",
    '<c s="2" r="{ref}"><f>A1</f><v>3</v></c>',
    '<c r="{ref}"><v>3</v><f>A1</f></c>',
    '<c r="{ref}"><fake/><v>3</v></c>',
    '<c r="{ref}"><f aca="false">A1</f><v>5</v></c>',
    '<c r="{ref}"><f>A1&lt;2</f><v>1</v></c>',
    '<c r="{ref}"><f/></c>',
]


@needs_c_loop
@pytest.mark.parametrize("seed", range(150))
def test_c_formula_scan_finds_what_python_finds(seed, monkeypatch):
    rng = random.Random(seed)
    _, _, _, data, _ = random_case(rng)
    # Formula cells of every kind, added at the ends of random rows.
    rows = re.findall(rb'<row r="(\d+)"[^>]*>', data)
    for number in rng.sample(rows, min(len(rows), 6)):
        cell = rng.choice(FORMULA_CELLS).format(ref=f"Z{number.decode()}").encode()
        close = data.find(b"</row>", data.find(b'<row r="' + number + b'"'))
        if close > 0:
            data = data[:close] + cell + data[close:]
    if seed % 3 == 1:
        data = with_prefix(data)
    cuts = sorted(rng.sample(range(1, len(data)), min(4, len(data) - 1)))
    chunks = [data[a:b] for a, b in zip([0, *cuts], [*cuts, len(data)], strict=True)]
    c_scan = sheetxml.scan_formulas(iter(chunks))
    with monkeypatch.context() as patch:
        patch.setattr(sheetxml, "_speedups", None)
        python_scan = sheetxml.scan_formulas(iter(chunks))
    assert c_scan == python_scan


def mangled(rng: random.Random, data: bytes) -> bytes:
    """The sheet with a few bytes inside <sheetData> deleted, doubled or replaced by one
    of the characters the parsers look for."""
    start = data.index(b"<sheetData>") + len(b"<sheetData>")
    end = data.index(b"</sheetData>")
    for _ in range(rng.randint(1, 4)):
        if end - start < 2:
            break
        at = rng.randrange(start, end)
        what = rng.random()
        if what < 0.4:
            data = data[:at] + data[at + 1 :]
            end -= 1
        elif what < 0.7:
            data = data[:at] + data[at : at + 1] + data[at:]
            end += 1
        else:
            data = (
                data[:at] + rng.choice([b"<", b">", b'"', b"/", b" ", b"9", b"Z"]) + data[at + 1 :]
            )
    return data


@needs_c_loop
@pytest.mark.parametrize("seed", range(400))
def test_c_loops_on_broken_xml_do_what_python_does(seed, monkeypatch):
    """Bytes a damaged file may hold: C gives the Python result or the Python error,
    and never reads out of bounds (the test process would crash)."""
    rng = random.Random(seed)
    _, _, edits, data, _ = random_case(rng)
    data = mangled(rng, data)
    chunks = [data[: len(data) // 2], data[len(data) // 2 :]]

    def scanned():
        try:
            return sheetxml.scan_formulas(iter(chunks))
        except sheetxml.SheetXmlError as err:
            return type(err), str(err)

    c_result = (edited(chunks, edits, True, monkeypatch), scanned())
    with monkeypatch.context() as patch:
        patch.setattr(sheetxml, "_speedups", None)
        python_result = (edited(chunks, edits, False, monkeypatch), scanned())
    assert c_result == python_result


# The parser's column split in C (model._columns): the same cells as the Python reference,
# equal cells of a repetitive column shared, and the same records from parse_rows.

needs_columns = pytest.mark.skipif(
    speedups.module is None, reason="the C loops are off or not built (see test_c_loop_is_built)"
)


class Text(str):
    pass


ODD_CELLS = [
    None, "", "x", " x ", Text("x"), 0.0, -0.0, math.nan, math.inf, 1.5, 2, 1, 1.0, True,
    False, 10**30, dt.date(2026, 1, 2), dt.datetime(2026, 1, 2), dt.datetime(2026, 1, 2, 9),
    dt.time(9, 30), "2026-01-02", "02/01/2026", "50%", "$1,200", "next friday", "Total",
]  # fmt: skip


def fresh(cell):
    """An equal cell that is another object, as a reader gives one per cell."""
    if type(cell) is str:
        return "".join(list(cell))
    if type(cell) is float:
        return float(repr(cell))
    if type(cell) is int and cell > 256:
        return int(str(cell))
    return cell


def random_grid(rng: random.Random) -> list:
    width = rng.randint(0, 9)
    repeat = rng.sample(ODD_CELLS, rng.randint(1, 5))  # a repetitive column's few values
    rows = []
    for _ in range(rng.randint(0, 60)):
        row = [
            fresh(rng.choice(repeat) if rng.random() < 0.8 else rng.choice(ODD_CELLS))
            if rng.random() < 0.9
            else rng.random()
            for _ in range(width if rng.random() < 0.8 else rng.randint(0, width))
        ]
        rows.append(tuple(row) if rng.random() < 0.1 else row)
    return rows


def typed(columns: list) -> list:
    """Cells as (type, repr): -0.0 and 0.0, 1 and 1.0 and True, all told apart."""
    return [[(type(cell), repr(cell)) for cell in column] for column in columns]


@needs_columns
@pytest.mark.parametrize("seed", range(200))
def test_c_columns_give_the_python_cells(seed, monkeypatch):
    rng = random.Random(seed)
    rows = random_grid(rng)
    first = rng.randint(0, 3) if rng.random() < 0.9 else len(rows) + 2
    cols = sorted(rng.sample(range(12), rng.randint(0, 6)))
    c_loop = model._columns(rows, first, cols)
    with monkeypatch.context() as patch:
        patch.setattr(speedups, "module", None)
        python = model._columns(rows, first, cols)
    assert typed(c_loop) == typed(python)


@needs_columns
def test_c_columns_share_equal_cells_of_a_repetitive_column():
    owners = [fresh(name) for name in ["Ann", "Bob", "Cy"] * 40]
    ids = [f"M{n}" for n in range(120)]
    amounts = [fresh(x) for x in [1.5, 0.0, -0.0, math.nan] * 30]
    rows = [list(row) for row in zip(owners, ids, amounts, strict=True)]
    owner_col, id_col, amount_col = model._columns(rows, 0, [0, 1, 2])
    assert owner_col == owners and id_col == ids
    assert len({id(cell) for cell in owner_col}) == 3  # one object per distinct owner
    # A distinct column is left as it is, and so are zeros (0.0 == -0.0) and NaN.
    assert all(a is b for a, b in zip(id_col, ids, strict=True))
    assert len({id(cell) for cell in amount_col if cell == 1.5}) == 1
    assert [math.copysign(1, x) for x in amount_col if x == 0] == [1, -1] * 30
    assert all(a is b for a, b in zip(amount_col, amounts, strict=True) if a != 1.5)


@needs_columns
def test_c_columns_refuse_what_python_refuses(monkeypatch):
    rows = [["a"], None]
    with pytest.raises(TypeError):
        model._columns(rows, 0, [0])
    with monkeypatch.context() as patch, pytest.raises(TypeError):
        patch.setattr(speedups, "module", None)
        model._columns(rows, 0, [0])


MILESTONE_CELLS = {
    "ID": ["M1", "M1", "m1 ", "", None, 7, 7.0, "Total"],
    "Milestone": ["Launch", "Launch", "", None, "Total", 3, True],
    "Owner": ["Ann", "Bob", "", None, " Ann", 1.0],
    "Email": ["ann@example.com", "bad@", "", None, 5],
    "Team": ["A", "B", "", None],
    "Start": [dt.date(2026, 1, 5), "2026-01-05", "05/01/2026", "", None, 46000.0, "soon"],
    "Due": [dt.date(2026, 3, 1), dt.datetime(2026, 3, 1, 12), "", None, "next friday", 46100],
    "Completed": [None, "", dt.date(2026, 2, 1), "yes", 0.0],
    "Budget": [1000.0, 1000, 0.0, -0.0, "$1,200", "", None, "lots", True],
    "Actual": [900.5, None, "", -0.0, 1e300, math.nan],
    "Progress": [0.5, 0.25, "50%", 1.5, "", None, -0.0, 50],
    "Target": [100.0, 100, "", None, "x"],
}


@needs_columns
@pytest.mark.parametrize("seed", range(40))
def test_parse_rows_gives_the_same_records_with_the_c_columns(seed, monkeypatch):
    """Shared cells change nothing the parser makes of them: values, problems, skips."""
    rng = random.Random(seed)
    headers = list(MILESTONE_CELLS)
    rows: list[list] = [["Plan"], headers]
    for _ in range(rng.randint(1, 300)):
        row = [fresh(rng.choice(MILESTONE_CELLS[name])) for name in headers]
        rows.append(row[: rng.randint(0, len(row))] if rng.random() < 0.1 else row)
    grid = model.SheetGrid("Milestones", rows)
    header = model.find_header(grid, model.MILESTONES)
    assert header is not None

    def parsed() -> list:
        records = model.parse_rows(grid, header, model.MILESTONES)
        model.check_duplicates(records, model.MILESTONES, header)
        return [
            (r.row, r.skipped, r.problems, [(k, type(x), repr(x)) for k, x in r.values.items()])
            for r in records
        ]

    c_loop = parsed()
    with monkeypatch.context() as patch:
        patch.setattr(speedups, "module", None)
        python = parsed()
    assert c_loop == python
