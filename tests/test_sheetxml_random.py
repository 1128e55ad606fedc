"""The worksheet editor against a plain model of the sheet, on many random sheets.

Each case writes a random worksheet (rows with and without spans, cells with and without
styles, empty cells, shared and inline strings, formulas, whitespace between cells, rows
left out), applies random edits the way a sync makes them (never to a formula), and
checks the result cell by cell against the model: edited cells hold their new value with
their old style, new cells take the neighbour's style when asked, nothing else changes,
and cells and rows stay in order.
"""

from __future__ import annotations

import random
import re

import pytest
from lxml import etree

from milestone_sheets.domain.grid import column_index, column_letter
from milestone_sheets.sources.excel.worksheet import (
    CellEdit,
    rewrite_sheet,
    scan_formulas,
)

NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
HEAD = (
    f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<worksheet xmlns="{NS}" '
    'xmlns:x14ac="http://schemas.microsoft.com/office/spreadsheetml/2009/9/ac">'
    '<dimension ref="A1:C3"/><sheetData>'
)
TAIL = "</sheetData><pageMargins/></worksheet>"

Cell = tuple[str | None, str | None, tuple]  # style, type, content (children as tuples)
XML_SPACE = "{http://www.w3.org/XML/1998/namespace}space"


def random_sheet(rng: random.Random) -> tuple[str, dict[int, dict[int, Cell]], set]:
    """Worksheet XML, its model {row: {col: cell}}, and the formula cells."""
    model: dict[int, dict[int, Cell]] = {}
    formulas = set()
    rows_xml = []
    previous = 0
    for row in sorted(rng.sample(range(1, 40), rng.randint(1, 25))):
        # Cells without a reference are placed by the one before them: a whole row so,
        # from column A, or now and then a cell right after its neighbour.
        without_refs = rng.random() < 0.1
        cols = (
            list(range(rng.randint(1, 6)))
            if without_refs
            else sorted(rng.sample(range(12), rng.randint(0, 9)))
        )
        cells = {}
        parts = []
        for col in cols:
            ref = f"{column_letter(col)}{row}"
            style = str(rng.randint(1, 9)) if rng.random() < 0.4 else None
            s_attr = f' s="{style}"' if style else ""
            kind = rng.choice(["number", "inline", "shared", "empty", "formula"])
            if kind == "empty" and style is None:
                kind = "number"
            if kind == "number":
                xml = f'<c r="{ref}"{s_attr}><v>{rng.randint(-5, 500)}</v></c>'
            elif kind == "inline":
                text = rng.choice(["a", " padded ", "x &amp; y", "On track"])
                xml = f'<c r="{ref}"{s_attr} t="inlineStr"><is><t>{text}</t></is></c>'
            elif kind == "shared":
                xml = f'<c r="{ref}"{s_attr} t="s"><v>{rng.randint(0, 9)}</v></c>'
            elif kind == "empty":
                xml = f'<c r="{ref}"{s_attr}/>'
            else:
                xml = f'<c r="{ref}"{s_attr}><f>A{row}*2</f><v>4</v></c>'
                formulas.add((row, col))
            if without_refs or (col - 1 in cells and rng.random() < 0.15):
                xml = xml.replace(f' r="{ref}"', "")
            parts.append(xml)
            cells[col] = cell_of(etree.fromstring(xml.replace("<c ", f'<c xmlns="{NS}" ', 1)))
        separator = "\n  " if rng.random() < 0.2 else ""
        # A row right after the one before may leave out its number, as some writers do.
        attrs = "" if row == previous + 1 and rng.random() < 0.15 else f' r="{row}"'
        previous = row
        if cols and rng.random() < 0.5:
            attrs += f' spans="1:{cols[-1] + 1}" x14ac:dyDescent="0.25"'
        if not cols and rng.random() < 0.5:
            rows_xml.append(f"<row{attrs}/>")
        else:
            body = separator.join(parts)
            rows_xml.append(f"<row{attrs}>{separator}{body}{separator}</row>")
        model[row] = cells
    return HEAD + "".join(rows_xml) + TAIL, model, formulas


def tree(element) -> tuple:
    name = etree.QName(element).localname
    children = tuple(tree(child) for child in element)
    return name, tuple(sorted(element.attrib.items())), element.text or "", children


def cell_of(element) -> Cell:
    return element.get("s"), element.get("t"), tuple(tree(child) for child in element)


def random_edits(rng, model, formulas) -> dict[int, dict[int, CellEdit]]:
    edits: dict[int, dict[int, CellEdit]] = {}
    for row in rng.sample(range(1, 45), rng.randint(1, 20)):
        cols = [c for c in rng.sample(range(14), rng.randint(1, 6)) if (row, c) not in formulas]
        row_edits = {}
        for col in cols:
            value = rng.choice([None, 7, -2.5, 100.0, "Overdue", " spaced ", "a < b & c"])
            like = None
            if rng.random() < 0.1 and model.get(row):
                like = rng.choice(sorted(model[row]))
            row_edits[col] = CellEdit(col, value, like)
        if row_edits:
            edits[row] = row_edits
    return edits


def expected_after(model, edits) -> dict[int, dict[int, Cell]]:
    expected = {row: dict(cells) for row, cells in model.items()}
    for row, row_edits in edits.items():
        cells = expected.setdefault(row, {})
        original = model.get(row, {})
        for col, edit in row_edits.items():
            old = original.get(col)
            style = old[0] if old else None
            if old is None and edit.style_like is not None and edit.style_like in original:
                style = original[edit.style_like][0]
            value = edit.value
            if value is None:
                if old is None:
                    continue
                if style is None:
                    del cells[col]
                else:
                    cells[col] = (style, None, ())
            elif isinstance(value, str):
                space = ((XML_SPACE, "preserve"),) if value != value.strip() else ()
                cells[col] = (style, "inlineStr", (("is", (), "", (("t", space, value, ()),)),))
            else:
                cells[col] = (style, None, (("v", (), repr(value), ()),))
    return {row: cells for row, cells in expected.items() if cells or row in model}


def blank_free(sheet: dict[int, dict[int, Cell]]) -> dict[int, dict[int, Cell]]:
    blank = (None, None, ())
    return {row: {c: v for c, v in cells.items() if v != blank} for row, cells in sheet.items()}


def actual_after(xml: bytes) -> dict[int, dict[int, Cell]]:
    root = etree.fromstring(xml)
    rows = root.findall(f"{{{NS}}}sheetData/{{{NS}}}row")
    numbers = []
    for row in rows:  # a row without a number follows the one before
        numbers.append(int(row.get("r")) if row.get("r") else (numbers[-1] if numbers else 0) + 1)
    assert numbers == sorted(numbers) and len(set(numbers)) == len(numbers), "rows out of order"
    actual = {}
    for number, row in zip(numbers, rows, strict=True):
        cells = {}
        col = -1
        for element in row.findall(f"{{{NS}}}c"):
            ref = element.get("r")
            col = column_index(re.match(r"[A-Z]+", ref).group()) if ref else col + 1
            assert not cells or col > max(cells), f"cells out of order in row {row.get('r')}"
            cells[col] = cell_of(element)
        spans = row.get("spans")
        if spans and cells:
            assert int(spans.split(":")[1]) >= max(cells) + 1, "spans do not cover the cells"
        actual[number] = cells
    return actual


def random_case(rng: random.Random) -> tuple[dict, set, dict, bytes, list[bytes]]:
    """A random sheet's model, formulas, edits, XML, and the XML cut at random places,
    as the inflater hands it over."""
    xml, model, formulas = random_sheet(rng)
    edits = random_edits(rng, model, formulas)
    data = xml.encode()
    cuts = sorted(rng.sample(range(1, len(data)), min(5, len(data) - 1)))
    chunks = [data[a:b] for a, b in zip([0, *cuts], [*cuts, len(data)], strict=True)]
    return model, formulas, edits, data, chunks


@pytest.mark.parametrize("seed", range(300))
def test_random_sheets_match_the_model(seed):
    rng = random.Random(seed)
    model, formulas, edits, data, chunks = random_case(rng)
    assert scan_formulas(chunks).formula_cells == {(row - 1, col) for row, col in formulas}
    out = b"".join(rewrite_sheet(chunks, edits))
    # A cleared cell may stay as an empty one (where cells after it carry no reference,
    # it must): an empty cell without a style and no cell read the same.
    assert blank_free(actual_after(out)) == blank_free(expected_after(model, edits))
