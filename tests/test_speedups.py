"""The worksheet editor's C row loop gives the bytes of the Python one, on any sheet.

`milestone_sheets/_speedups.c` takes the rows it knows and gives every other row back to
the Python loop in `sources/sheetxml.py`, which stays the reference. Each case here edits
the same random worksheet with and without the C loop and compares the results byte for
byte, and the errors (a formula cell, a boolean) by type and message.
"""

from __future__ import annotations

import os
import random
import re

import pytest
from test_sheetxml_random import random_case

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
