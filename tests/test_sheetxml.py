"""The worksheet XML editor on hand-made rows: only the edited cells change."""

import pytest

from milestone_sheets.sources.excel.worksheet import (
    CellEdit,
    FormulaCellError,
    SheetXmlError,
    check_references,
    rewrite_sheet,
    scan_formulas,
)

HEAD = b'<?xml version="1.0"?><worksheet xmlns="main"><dimension ref="A1:E2"/><sheetData>'
TAIL = b"</sheetData><pageMargins/></worksheet>"


def edit(rows: bytes, edits) -> bytes:
    out = b"".join(rewrite_sheet([HEAD + rows + TAIL], edits))
    return out[len(HEAD) - len(b'<dimension ref="A1:E2"/><sheetData>') :]


def test_replace_insert_and_keep_a_user_cell_between():
    row = (b'<row r="2" spans="1:5"><c r="A2" t="s"><v>0</v></c><c r="D2" s="4" t="s"><v>1</v></c>'
           b'<c r="E2" s="7"><f>A2</f><v>3</v></c></row>')  # fmt: skip
    out = edit(row, {2: {3: CellEdit(3, "Overdue"), 2: CellEdit(2, 5), 5: CellEdit(5, 1.5)}})
    assert b'<dimension ref="A1:F2"/>' in out
    assert (b'<row r="2" spans="1:6"><c r="A2" t="s"><v>0</v></c><c r="C2"><v>5</v></c>'
            b'<c r="D2" s="4" t="inlineStr"><is><t>Overdue</t></is></c>'
            b'<c r="E2" s="7"><f>A2</f><v>3</v></c><c r="F2"><v>1.5</v></c></row>') in out  # fmt: skip


def test_clearing_keeps_the_style_and_drops_an_unstyled_cell():
    row = (
        b'<row r="2"><c r="A2"><v>1</v></c><c r="B2" s="3"><v>2</v></c><c r="C2"><v>3</v></c></row>'
    )
    out = edit(row, {2: {1: CellEdit(1, None), 2: CellEdit(2, None)}})
    assert b'<row r="2"><c r="A2"><v>1</v></c><c r="B2" s="3"/></row>' in out


def test_rows_without_cells_or_missing_rows_are_created_in_order():
    rows = b'<row r="1"><c r="A1"><v>1</v></c></row><row r="5"/>'
    out = edit(rows, {3: {0: CellEdit(0, "x")}, 5: {1: CellEdit(1, 2)}, 9: {0: CellEdit(0, 1)}})
    assert (b'<row r="1"><c r="A1"><v>1</v></c></row><row r="3"><c r="A3" t="inlineStr"><is><t>x</t></is></c></row>'
            b'<row r="5"><c r="B5"><v>2</v></c></row><row r="9"><c r="A9"><v>1</v></c></row></sheetData>') in out  # fmt: skip


def test_text_is_escaped_and_spaces_kept():
    out = edit(b'<row r="2"/>', {2: {0: CellEdit(0, " <a> & b ")}})
    assert b'<t xml:space="preserve"> &lt;a&gt; &amp; b </t>' in out


def test_formula_scan_finds_formulas_and_missing_results():
    rows = (b'<row r="2"><c r="A2"><f>1+1</f><v>2</v></c><c r="B2"><f>1+2</f></c>'
            b'<c r="C2"><f>1+3</f><v></v></c><c r="D2" t="str"><f>""</f><v></v></c></row>')  # fmt: skip
    scan = scan_formulas([HEAD + rows + TAIL])
    assert scan.formula_cells == {(1, 0), (1, 1), (1, 2), (1, 3)}
    assert scan.uncached_cells == {(1, 1), (1, 2)}


def test_a_prefixed_namespace():
    sheet = (b'<x:worksheet xmlns:x="main"><x:sheetData><x:row r="1"><x:c r="A1"><x:v>1</x:v></x:c></x:row>'
             b"</x:sheetData></x:worksheet>")  # fmt: skip
    out = b"".join(rewrite_sheet([sheet], {1: {1: CellEdit(1, "ok")}}))
    assert b'<x:c r="B1" t="inlineStr"><x:is><x:t>ok</x:t></x:is></x:c></x:row>' in out


def test_cells_and_rows_without_references():
    rows = b"<row><c><v>1</v></c></row><row><c><v>2</v></c><c><f>A2</f></c></row>"
    out = edit(rows, {2: {2: CellEdit(2, "new")}})
    assert (
        b'<row><c><v>2</v></c><c><f>A2</f></c><c r="C2" t="inlineStr"><is><t>new</t></is></c></row>'
        in out
    )
    scan = scan_formulas([HEAD + rows + TAIL])
    assert scan.formula_cells == {(1, 1)} and scan.uncached_cells == {(1, 1)}


def test_appending_after_an_empty_last_cell_and_repeated_values():
    rows = b'<row r="2"><c r="A2"><v>1</v></c><c r="B2" s="3"/></row><row r="3"><c r="A3"><v>2</v></c></row>'
    out = edit(
        rows,
        {
            2: {2: CellEdit(2, "On track"), 3: CellEdit(3, 1), 4: CellEdit(4, None)},
            3: {2: CellEdit(2, "On track"), 3: CellEdit(3, 1.0), 4: CellEdit(4, "a < b")},
        },
    )
    assert (b'<row r="2"><c r="A2"><v>1</v></c><c r="B2" s="3"/>'
            b'<c r="C2" t="inlineStr"><is><t>On track</t></is></c><c r="D2"><v>1</v></c></row>'
            b'<row r="3"><c r="A3"><v>2</v></c><c r="C3" t="inlineStr"><is><t>On track</t></is></c>'
            b'<c r="D3"><v>1.0</v></c><c r="E3" t="inlineStr"><is><t>a &lt; b</t></is></c></row>') in out  # fmt: skip


def test_new_cells_go_before_a_row_extension():
    row = b'<row r="2"><c r="A2"><v>1</v></c><extLst><ext uri="u"/></extLst></row>'
    out = edit(row, {2: {1: CellEdit(1, 7)}})
    assert (
        b'<c r="A2"><v>1</v></c><c r="B2"><v>7</v></c><extLst><ext uri="u"/></extLst></row>' in out
    )


def test_replacing_cells_laid_out_with_whitespace_between_them():
    row = (b'<row r="2">\n  <c r="A2"><v>1</v></c>\n  <c r="B2" s="5" t="inlineStr"><is><t>Old</t></is></c>\n'
           b'  <c r="C2" s="6"><v>3</v></c>\n</row>')  # fmt: skip
    out = edit(row, {2: {1: CellEdit(1, "New"), 2: CellEdit(2, 4)}})
    assert (b'<row r="2">\n  <c r="A2"><v>1</v></c>\n  <c r="B2" s="5" t="inlineStr"><is><t>New</t></is></c>\n'
            b'  <c r="C2" s="6"><v>4</v></c>\n</row>') in out  # fmt: skip


def test_a_formula_in_an_edited_cell_is_refused():
    row = b'<row r="2"><c r="A2"><v>1</v></c><c r="B2"><f>A2*2</f><v>2</v></c></row>'
    with pytest.raises(FormulaCellError, match="B2"):
        edit(row, {2: {1: CellEdit(1, 5)}})


def test_appending_widens_the_row_spans_as_excel_writes_them():
    rows = (b'<row r="2" spans="1:2" x14ac:dyDescent="0.25"><c r="A2"><v>1</v></c><c r="B2"><v>2</v></c></row>'
            b'<row r="3" spans="1:2"><c r="A3"><v>1</v></c></row>')  # fmt: skip
    out = edit(rows, {2: {3: CellEdit(3, "x"), 4: CellEdit(4, None)}, 3: {1: CellEdit(1, 5)}})
    assert (b'<row r="2" spans="1:4" x14ac:dyDescent="0.25"><c r="A2"><v>1</v></c><c r="B2"><v>2</v></c>'
            b'<c r="D2" t="inlineStr"><is><t>x</t></is></c></row>'
            b'<row r="3" spans="1:2"><c r="A3"><v>1</v></c><c r="B3"><v>5</v></c></row>') in out  # fmt: skip


def test_replacing_in_place_keeps_styles_and_leaves_other_cells_alone():
    row = (b'<row r="12"><c r="A12"><v>1</v></c><c r="B12" s="4" t="inlineStr"><is><t>Old</t></is></c>'
           b'<c r="C12"><v>9</v></c><c r="D12" s="2"><v>3</v></c><c r="E12"><v>7</v></c></row>')  # fmt: skip
    out = edit(row, {12: {1: CellEdit(1, "New"), 3: CellEdit(3, None), 4: CellEdit(4, None)}})
    assert (b'<row r="12"><c r="A12"><v>1</v></c><c r="B12" s="4" t="inlineStr"><is><t>New</t></is></c>'
            b'<c r="C12"><v>9</v></c><c r="D12" s="2"/></row>') in out  # fmt: skip


def test_cells_out_of_column_order_are_still_edited_right():
    row = b'<row r="2"><c r="C2"><v>3</v></c><c r="B2"><v>2</v></c></row>'
    out = edit(row, {2: {1: CellEdit(1, 20), 2: CellEdit(2, 30)}})
    assert out.count(b"<v>20</v>") == 1 and out.count(b"<v>30</v>") == 1
    assert b"<v>2</v>" not in out and b"<v>3</v>" not in out


def test_clearing_a_cell_before_cells_without_references_keeps_their_columns():
    row = b'<row r="2"><c r="A2"><v>1</v></c><c r="B2"><v>2</v></c><c><v>3</v></c></row>'
    out = edit(row, {2: {1: CellEdit(1, None)}})
    assert b'<row r="2"><c r="A2"><v>1</v></c><c r="B2"/><c><v>3</v></c></row>' in out


def test_an_empty_sheet_data_is_opened_filled_and_the_tail_kept():
    sheet = b'<?xml version="1.0"?><worksheet xmlns="main"><dimension ref="A1"/><sheetData/>'
    out = b"".join(rewrite_sheet([sheet + b"<pageMargins/></worksheet>"], {2: {1: CellEdit(1, 7)}}))
    assert out == (
        b'<?xml version="1.0"?><worksheet xmlns="main"><dimension ref="A1:B2"/><sheetData>'
        b'<row r="2"><c r="B2"><v>7</v></c></row></sheetData><pageMargins/></worksheet>'
    )


def test_formula_scan_counts_rows_without_references_across_chunks():
    """A large part arrives in pieces; rows without a number are counted from the row
    before, in the piece before if need be."""
    rows = [b'<row r="1"><c r="A1"><v>1</v></c></row>'] + [
        b"<row><c><v>%d</v></c><c><f>A1</f><v>1</v></c></row>" % n for n in range(2, 9)
    ]
    sheet = HEAD + b"".join(rows) + TAIL
    whole = scan_formulas([sheet])
    assert whole.formula_cells == {(row, 1) for row in range(1, 8)}
    for size in (7, 50, 101):
        pieces = [sheet[at : at + size] for at in range(0, len(sheet), size)]
        assert scan_formulas(pieces) == whole


def test_a_reference_written_in_text_is_not_taken_for_the_cell():
    # An edited cell is found by its r="..."; text that reads the same must not be edited.
    row = (b'<row r="2"><c r="A2" t="inlineStr"><is><t> r="C2"</t></is></c>'
           b'<c r="B2"><v>1</v></c><c r="C2" s="2"><v>2</v></c></row>')  # fmt: skip
    out = edit(row, {2: {2: CellEdit(2, 9)}})
    assert (b'<row r="2"><c r="A2" t="inlineStr"><is><t> r="C2"</t></is></c>'
            b'<c r="B2"><v>1</v></c><c r="C2" s="2"><v>9</v></c></row>') in out  # fmt: skip
    # ...nor a later cell's attribute when the edited cell is new.
    row = b'<row r="2"><c r="A2" t="inlineStr"><is><t> r="B2"</t></is></c><c r="C2"><v>2</v></c></row>'
    out = edit(row, {2: {1: CellEdit(1, 5)}})
    assert (b'<row r="2"><c r="A2" t="inlineStr"><is><t> r="B2"</t></is></c><c r="B2"><v>5</v></c>'
            b'<c r="C2"><v>2</v></c></row>') in out  # fmt: skip


@pytest.mark.parametrize("ref", [b'r="XFE1"', b'r="AAAA1"', b'r="A1048577"', b'r="$XFE$1"',
                                 b'ref="A1:XFE3"', b'ref="B2 A1:C1048577"', b'r="A12345678901"'])  # fmt: skip
def test_a_reference_past_the_last_cell_is_refused(ref):
    with pytest.raises(SheetXmlError, match="past the sheet's last cell"):
        check_references(b"<c " + ref + b"/>")


@pytest.mark.parametrize("ref", [b'r="XFD1048576"', b'r="$XFD$1048576"', b'r="ABC1000000"',
                                 b'ref="A1:XFD1048576"', b'xr="ZZZZ99999999"', b'r="A1"'])  # fmt: skip
def test_the_last_cell_and_other_attributes_pass(ref):
    check_references(b"<c " + ref + b"/>")
