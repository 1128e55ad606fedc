"""Streaming edits of a SpreadsheetML worksheet part, at the byte level.

Rows that hold no change pass through as the very bytes they were; in a changed row only
the changed cells are replaced or inserted, so every attribute, style index, formula and
extension element the user's application wrote stays as it was. Memory stays flat: the
part is processed one chunk of whole rows at a time.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from operator import itemgetter
from typing import NamedTuple, Protocol

from milestone_sheets.changes import MAX_ROW, CellValue
from milestone_sheets.domain.grid import column_index, column_letter
from milestone_sheets.sources.excel.styles import Styler


class SheetXmlError(ValueError):
    """The worksheet XML is not what a spreadsheet application writes."""


class Edit(Protocol):
    """What the editor needs of a cell edit: the 0-based column, the new value, and the
    column of a cell in the same row whose style a new cell copies (or None).

    The sync hands over its CellWrite records as they are; CellEdit is the plain form.
    """

    @property
    def col(self) -> int: ...

    @property
    def value(self) -> CellValue: ...

    @property
    def style_like(self) -> int | None: ...

    @property
    def number_format(self) -> str | int | None:
        """A number format code for the cell, or the column of a cell in the same row
        whose number format it takes (None: the cell keeps its style as it is)."""
        ...


class CellEdit(NamedTuple):
    """A new value for a cell (0-based column); `style_like` copies a neighbour's style,
    `number_format` gives it a number format (a code, or a column to take it from)."""

    col: int
    value: CellValue
    style_like: int | None = None
    number_format: str | int | None = None


def _prefix(head: bytes) -> bytes:
    """The namespace prefix of the worksheet element (`x:` in some writers' files)."""
    match = re.search(rb"<(\w+:)?worksheet\b", head)
    if not match:
        raise SheetXmlError("no <worksheet> element")
    return match.group(1) or b""


class _Patterns:
    def __init__(self, prefix: bytes):
        p = re.escape(prefix)
        self.row_end = b"</" + prefix + b"row>"
        self.row_open = b"<" + prefix + b"row"
        # A cell; groups: its attributes, its reference's column letters (if it has one).
        self.cell = re.compile(
            rb"<" + p + rb'c\b((?:[^>]*?\sr="([A-Z]+)\d*")?[^>]*?)(?:/>|>.*?</' + p + rb"c>)", re.S
        )
        self.formula = re.compile(rb"<" + p + rb"f[\s/>]")
        self.value = re.compile(rb"<" + p + rb"v[\s/>]")
        self.sheet_data_end = b"</" + prefix + b"sheetData>"
        self.sheet_data = re.compile(rb"<" + p + rb"sheetData\b[^>]*?(/?)>")
        self.dimension = re.compile(rb"(<" + p + rb"dimension\b[^>]*?\bref=\")([^\"]*)(\")")
        self.prefix = prefix
        self.prefix_text = prefix.decode()
        self.cell_open = b"<" + prefix + b"c"
        self.cell_close = b"</" + prefix + b"c>"
        self.formula_open = b"<" + prefix + b"f"
        # A row's start tag, its reference caught directly where it is the first attribute;
        # groups: the reference (or None), the other attributes, "/" for an empty row.
        self.row_tag = re.compile(rb"<" + p + rb'row\b(?:\s+r="(\d+)")?([^>]*?)(/?)>')


_ATTR_R = re.compile(rb'\br="([A-Z]+)?(\d+)?"')
_ATTR_S = re.compile(rb'\bs="(\d+)"')
_ATTR_SPANS = re.compile(rb'\bspans="(\d+):(\d+)"')


class _SheetStream:
    """Iterates a worksheet part as head, chunks of whole rows, and tail."""

    def __init__(self, chunks: Iterable[bytes]):
        self.chunks = iter(chunks)
        self.buffer = b""
        self.done = False

    def _more(self) -> bool:
        for chunk in self.chunks:
            if chunk:
                self.buffer += chunk
                return True
        return False

    def head(self) -> tuple[bytes, _Patterns, bool]:
        """Everything up to and including the <sheetData> start tag; True if it is empty."""
        while True:
            match = re.search(rb"<(\w+:)?sheetData\b[^>]*?(/?)>", self.buffer)
            if match:
                head = self.buffer[: match.end()]
                self.buffer = self.buffer[match.end() :]
                return head, _Patterns(_prefix(head)), bool(match.group(2))
            if not self._more():
                raise SheetXmlError("no <sheetData> element")

    def rows(self, patterns: _Patterns) -> Iterator[bytes]:
        """Chunks that each end on a row boundary; the last ends before </sheetData>."""
        while True:
            # </sheetData> can only follow the last </row>: look for it there, not in
            # every byte of the chunk.
            cut = self.buffer.rfind(patterns.row_end)
            end = self.buffer.find(patterns.sheet_data_end, max(cut, 0))
            if end >= 0:
                yield self.buffer[:end]
                self.buffer = self.buffer[end:]
                return
            if cut >= 0:
                cut += len(patterns.row_end)
                yield self.buffer[:cut]
                self.buffer = self.buffer[cut:]
            if not self._more():
                raise SheetXmlError("worksheet ends inside <sheetData>")

    def tail(self) -> Iterator[bytes]:
        yield self.buffer
        self.buffer = b""
        yield from self.chunks


@dataclass(frozen=True)
class FormulaScan:
    formula_cells: frozenset[tuple[int, int]]
    uncached_cells: frozenset[tuple[int, int]]


# A reference with three or more letters or seven or more digits: the only ones that can
# lie past the sheet's last cell (XFD1048576); each one found is then checked exactly.
# Each starts with a literal, which the regex engine finds fast; the letters are taken
# possessively ({0,3}+), as giving one back could never let a digit or $ match there.
_LONG_REF = re.compile(rb'r="\$?(?:[A-Z]{3}|[A-Z]{0,3}+\$?\d{7})|ref="[^"]*?(?:[A-Z]{3}|\d{7})')
_REF_PART = re.compile(rb"\$?([A-Z]*)\$?(\d*)")


def check_references(data: bytes) -> None:
    """Refuse a reference past the sheet's last cell before any reader sees it (a row
    number of twenty digits makes some readers abort the process)."""
    for match in _LONG_REF.finditer(data):
        start = data.index(b'"', match.start()) + 1
        name_start = data.rfind(b"r" if data[start - 3] == 114 else b"ref", 0, start)
        if data[name_start - 1 : name_start] not in (b" ", b"\t", b"\n", b"\r"):
            continue  # another attribute ending in r (xr="..."), not a reference
        value = data[start : data.find(b'"', start)]
        for part in value.split(b":"):
            ref = _REF_PART.fullmatch(part)
            if ref is None:
                continue
            letters, digits = ref.groups()
            if (
                (digits and (len(digits) > 7 or int(digits) > MAX_ROW + 1))
                or len(letters) > 3
                or (len(letters) == 3 and letters > b"XFD")
            ):
                raise SheetXmlError(
                    f"the reference {value.decode(errors='replace')} lies past the sheet's "
                    "last cell (XFD1048576): the workbook is damaged or was built to break readers"
                )


def scan_formulas(chunks: Iterable[bytes]) -> FormulaScan:
    """Which cells hold a formula, and which of them have no saved value (0-based).
    Refuses a reference past the sheet's last cell (see `check_references`)."""
    stream = _SheetStream(chunks)
    head, patterns, empty = stream.head()
    check_references(head)
    formulas: set[tuple[int, int]] = set()
    uncached: set[tuple[int, int]] = set()
    if empty:
        return FormulaScan(frozenset(), frozenset())
    cell_start, cell_end = patterns.cell_open, patterns.cell_close
    rows_before = 0  # the number of the last row of the chunks before
    for chunk in stream.rows(patterns):
        check_references(chunk)
        for match in patterns.formula.finditer(chunk):
            at = match.start()
            start = chunk.rfind(cell_start, 0, at)
            while start >= 0 and chunk[start + len(cell_start)] not in _CELL_NAME_END:
                start = chunk.rfind(cell_start, 0, start)
            end = chunk.find(cell_end, at)
            tag_end = chunk.find(b">", start)
            ref = _ATTR_R.search(chunk, start, tag_end)
            if start < 0 or end < 0 or not ref or not ref.group(1) or not ref.group(2):
                position = _position_without_ref(chunk, start, patterns, rows_before)
            else:
                position = (int(ref.group(2)) - 1, _column_of(ref.group(1)))
            formulas.add(position)
            if not _has_saved_value(chunk, start, tag_end, at, end, patterns):
                uncached.add(position)
        rows_before = _last_row(chunk, patterns, rows_before)
    return FormulaScan(frozenset(formulas), frozenset(uncached))


def _has_saved_value(
    chunk: bytes, start: int, tag_end: int, f_at: int, end: int, patterns: _Patterns
) -> bool:
    """A formula's saved result: a non-empty <v>, or an empty one on a string cell."""
    value = patterns.value.search(chunk, f_at, end)
    if not value:
        return False
    content_at = chunk.find(b">", value.start()) + 1
    if chunk[content_at - 2 : content_at] != b"/>" and chunk[content_at : content_at + 1] != b"<":
        return True
    return b't="str"' in chunk[start:tag_end]


def _own_number(tag: re.Match[bytes]) -> int | None:
    """The number a row's start tag (a row_tag match) gives in its `r` attribute, if any."""
    if tag.group(1) is not None:
        return int(tag.group(1))
    ref = _ATTR_R.search(tag.group(2))
    return int(ref.group(2)) if ref and ref.group(2) else None


def _row_number(tag: re.Match[bytes], previous: int) -> int:
    """The 1-based number of the row whose start tag is `tag` (a row_tag match); a row
    without an `r` attribute follows the one before it."""
    number = _own_number(tag)
    return previous + 1 if number is None else number


def _last_row(chunk: bytes, patterns: _Patterns, previous: int) -> int:
    """The number of the last row in a chunk of whole rows (`previous`: of the row before)."""
    at = chunk.rfind(patterns.row_open)
    while at >= 0:
        tag = patterns.row_tag.match(chunk, at)
        if tag is not None:
            number = _own_number(tag)
            if number is not None:  # the usual case: settled by the last row's tag
                return number
            break
        at = chunk.rfind(patterns.row_open, 0, at)
    for tag in patterns.row_tag.finditer(chunk):
        previous = _row_number(tag, previous)
    return previous


def _position_without_ref(
    chunk: bytes, cell_start: int, patterns: _Patterns, rows_before: int
) -> tuple[int, int]:
    """The position of the cell starting at `cell_start`, counting rows and cells that carry
    no `r` attribute from the last ones that do (`rows_before`: the number of the row
    before the chunk)."""
    row_number = rows_before
    row_start = 0
    for match in patterns.row_tag.finditer(chunk, 0, cell_start):
        row_number = _row_number(match, row_number)
        row_start = match.end()
    col = -1
    for match in patterns.cell.finditer(chunk, row_start, cell_start):
        letters = match.group(2)
        col = _column_of(letters) if letters else col + 1
    own = patterns.cell.match(chunk, cell_start)
    letters = own.group(2) if own else None
    col = _column_of(letters) if letters else col + 1
    return row_number - 1, col


_XML_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", "\r": "&#13;"})
_ATTR_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "\n": "&#10;",
                               "\r": "&#13;", "\t": "&#9;"})  # fmt: skip


# What XML cannot hold, written the way Excel writes it: _xHHHH_ (and a literal _xHHHH_
# in the text gets its underscore escaped, _x005F_, so that it reads back as written).
_NOT_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]|_(?=x[0-9A-Fa-f]{4}_)")


def _excel_escapes(text: str) -> str:
    return (
        _NOT_XML.sub(lambda m: f"_x{ord(m.group()):04X}_", text) if _NOT_XML.search(text) else text
    )


def xml_text(text: str) -> str:
    """Text escaped for an XML element (xml.sax.saxutils would pull in urllib at start-up)."""
    return _excel_escapes(text).translate(_XML_ESCAPES)


def xml_attribute(text: str) -> str:
    """Text as a double-quoted XML attribute value."""
    return '"' + _excel_escapes(text).translate(_ATTR_ESCAPES) + '"'


class FormulaCellError(SheetXmlError):
    """A write aimed at a cell holding a formula; the caller should never ask for it."""


@functools.lru_cache(maxsize=1024)
def _column_of(letters: bytes) -> int:
    """0-based column of a reference's letters (a sheet has few distinct columns)."""
    return column_index(letters.decode())


_Cell = tuple[int, int, int, int]  # column, start, end, end of the start tag


def _style(chunk: bytes, cell: _Cell) -> bytes | None:
    """A cell's style index, read from its start tag only when it is needed."""
    found = _ATTR_S.search(chunk, cell[1], cell[3])
    return found.group(1) if found else None


def _tail_cells(
    chunk: bytes, start: int, end: int, first_col: int, patterns: _Patterns
) -> tuple[list[_Cell], bool]:
    """The cells of a row body from the last one before column `first_col` to its end,
    in order; and whether each of them has an `r` attribute.

    Found from the row's end backwards, so a row whose cells carry references (as every
    spreadsheet application writes them) costs only its last few cells. A cell without a
    reference takes its column from the one before it, so where references are missing
    the walk goes back to the row's first cell and counts.
    """
    opening, closing = patterns.cell_open, patterns.cell_close
    found: list[tuple[int, int, bytes | None]] = []  # (start, end of start tag, letters)
    pos = end
    while (at := chunk.rfind(opening, start, pos)) >= 0:
        pos = at
        if chunk[at + len(opening)] not in _CELL_NAME_END:  # <color> in rich text
            continue
        tag_end = chunk.find(b">", at, end) + 1
        if tag_end == 0:
            raise SheetXmlError("a cell's start tag is not closed")
        ref = _ATTR_R.search(chunk, at, tag_end)
        letters = ref.group(1) if ref else None
        found.append((at, tag_end, letters))
        if letters and _column_of(letters) < first_col:
            break
    cells = []
    col = -1
    referenced = True
    for at, tag_end, letters in reversed(found):
        if letters:
            col = _column_of(letters)
        else:
            col, referenced = col + 1, False
        cells.append((col, at, _cell_end(chunk, tag_end, end, closing), tag_end))
    return cells, referenced


def _cell_end(chunk: bytes, tag_end: int, end: int, closing: bytes) -> int:
    """Where the cell whose start tag ends at `tag_end` ends."""
    if chunk[tag_end - 2] == 47:  # "/>": an empty cell
        return tag_end
    cell_end = chunk.find(closing, tag_end, end)
    if cell_end < 0:
        raise SheetXmlError("a cell is not closed")
    return cell_end + len(closing)


def _cell_by_ref(
    chunk: bytes, start: int, end: int, col: int, ref: str, patterns: _Patterns
) -> _Cell | None:
    """The cell of a row body whose start tag says r="{ref}", found with one search
    instead of a walk over the cells; None when there is none, or when what the search
    finds is not plainly a cell's start tag (text that happens to read r="..."), which
    leaves the row to the walk."""
    at = chunk.find(f' r="{ref}"'.encode(), start, end)
    if at < 0:
        return None
    opening = patterns.cell_open
    tag_start = chunk.rfind(b"<", start, at)
    if (
        tag_start < 0
        or not chunk.startswith(opening, tag_start)
        or chunk[tag_start + len(opening)] not in _CELL_NAME_END
        or chunk.find(b">", tag_start, at) >= 0
    ):
        return None
    tag_end = chunk.find(b">", at, end) + 1
    if tag_end == 0:
        raise SheetXmlError("a cell's start tag is not closed")
    return col, tag_start, _cell_end(chunk, tag_end, end, patterns.cell_close), tag_end


_CELL_NAME_END = frozenset(b" \t\r\n>/")


def _render(p: str, ref: str, value: CellValue, style: bytes | None) -> str:
    """One <c> element for a computed value: numbers as numbers, text as an inline string."""
    if value is None and style is None:
        return ""
    style_attr = f' s="{style.decode()}"' if style is not None else ""
    return f'<{p}c r="{ref}"{style_attr}' + _body(p, value)


def _body(p: str, value: CellValue) -> str:
    """What follows a rendered cell's reference and style: its type and value."""
    kind = type(value)
    if kind is str:
        text = xml_text(value)  # type: ignore[arg-type]
        space = ' xml:space="preserve"' if text != text.strip() else ""
        return f' t="inlineStr"><{p}is><{p}t{space}>{text}</{p}t></{p}is></{p}c>'
    if kind is float:
        return f"><{p}v>{value!r}</{p}v></{p}c>"
    if kind is int:
        return f"><{p}v>{value}</{p}v></{p}c>"
    if value is None:
        return "/>"
    if isinstance(value, bool):
        raise TypeError("computed cells hold no booleans")
    if isinstance(value, (int, float)):  # subclasses: render as the plain number
        return _body(p, (float if isinstance(value, float) else int)(value))
    return _body(p, str(value))


def _holds_formula(chunk: bytes, start: int, end: int, patterns: _Patterns) -> bool:
    """Is there an <f> element between `start` and `end` (inside one cell)?"""
    opening = patterns.formula_open
    at = chunk.find(opening, start, end)
    while at >= 0:
        if chunk[at + len(opening)] in _CELL_NAME_END:
            return True
        at = chunk.find(opening, at + 1, end)
    return False


def _number_style(
    edit: Edit, style: bytes | None, styler: Styler | None, style_at: Callable[[int], bytes | None]
) -> bytes | None:
    """The style a written cell gets: its own, with the number format the edit asks for
    (`style_at` gives the style of another cell of the row, by column)."""
    fmt = edit.number_format
    if styler is None or fmt is None or edit.value is None or isinstance(edit.value, str):
        return style
    if isinstance(fmt, int):  # the format of a cell in the same row (the Budget's)
        return styler.restyle(style, styler.format_of(style_at(fmt)))
    return styler.restyle(style, styler.format_id(fmt))


def _edit_row(
    chunk: bytes,
    tag: re.Match[bytes],
    row_end: int,
    row_number: int,
    edits: Mapping[int, Edit],
    patterns: _Patterns,
    styler: Styler | None = None,
) -> bytes:
    """The <row> element that starts with `tag` and ends at `row_end`, its cells edited."""
    if tag.group(3):  # <row .../>: open it up
        open_tag = chunk[tag.start() : tag.end() - 2].rstrip() + b">"
        body_start = body_end = tag.end()
    else:
        open_tag = chunk[tag.start() : tag.end()]
        body_start, body_end = tag.end(), row_end - len(patterns.row_end)
    columns = sorted(edits)
    row_text = str(row_number)
    # The usual edit gives cells the row has a new value: each is found by its reference.
    # A row where one is missing (a new cell, cells without references) or cleared is
    # walked instead, from its end back to the first cell the edits need.
    cells: list[_Cell] = []
    by_col: dict[int, _Cell] = {}
    for col in columns:
        found = None
        if edits[col].value is not None:
            ref = column_letter(col) + row_text
            found = _cell_by_ref(chunk, body_start, body_end, col, ref, patterns)
        if found is None:
            break
        by_col[col] = found
    keep_empty = False
    if len(by_col) < len(columns):
        looks = [edit.style_like for edit in edits.values() if edit.style_like is not None]
        first_col = min(columns[0], *looks) if looks else columns[0]
        cells, all_referenced = _tail_cells(chunk, body_start, body_end, first_col, patterns)
        # Where cells go without a reference, each is placed by the one before it: a
        # cleared cell then stays as an empty one, so that those after it keep their columns.
        keep_empty = not all_referenced
        by_col = {cell[0]: cell for cell in cells}
    p = patterns.prefix_text

    def style_at(col: int) -> bytes | None:
        """The style of the row's cell in column `col`: found by its reference (one
        search, not a walk over the cells before it), else among the walked cells."""
        ref = column_letter(col) + row_text
        cell = _cell_by_ref(chunk, body_start, body_end, col, ref, patterns) or by_col.get(col)
        return _style(chunk, cell) if cell is not None else None

    pieces: list[tuple[int, int, str]] = []  # (start, end, new cell) in row order
    for col in columns:
        edit = edits[col]
        existing = by_col.get(col)
        if existing is not None:
            _, start, end, _ = existing
            if _holds_formula(chunk, start, end, patterns):
                raise FormulaCellError(f"{column_letter(col)}{row_text} holds a formula")
            style = _number_style(edit, _style(chunk, existing), styler, style_at)
            rendered = _render(p, column_letter(col) + row_text, edit.value, style)
            if not rendered and keep_empty:
                rendered = f'<{p}c r="{column_letter(col)}{row_text}"/>'
            pieces.append((start, end, rendered))
            continue
        if edit.value is None:
            continue
        like = by_col.get(edit.style_like) if edit.style_like is not None else None
        style = _style(chunk, like) if like is not None else None
        style = _number_style(edit, style, styler, style_at)
        at = body_start if not cells else cells[0][1]
        for cell in cells:
            if cell[0] >= col:
                break
            at = cell[2]
        pieces.append((at, at, _render(p, column_letter(col) + row_text, edit.value, style)))
    # Sorting only matters for a row whose cells are out of column order.
    pieces.sort(key=itemgetter(0))
    out = []
    last = body_start
    for start, end, rendered in pieces:
        out.append(chunk[last:start])
        out.append(rendered.encode())
        last = end
    out.append(chunk[last:body_end])
    if b"spans=" in open_tag:
        open_tag = _widen_spans(open_tag, edits)
    return open_tag + b"".join(out) + patterns.row_end


def _widen_spans(open_tag: bytes, edits: Mapping[int, Edit]) -> bytes:
    columns = [e.col + 1 for e in edits.values() if e.value is not None]
    return _spans_to(open_tag, max(columns)) if columns else open_tag


def _spans_to(open_tag: bytes, high: int) -> bytes:
    """A row's start tag, its spans="low:high" (if any) reaching at least column `high`
    (1-based)."""
    spans = _ATTR_SPANS.search(open_tag)
    if not spans:
        return open_tag
    low, old_high = int(spans.group(1)), int(spans.group(2))
    if high <= old_high:
        return open_tag
    wider = f'spans="{low}:{high}"'.encode()
    return open_tag[: spans.start()] + wider + open_tag[spans.end() :]


def _new_row(
    row_number: int, edits: Mapping[int, Edit], patterns: _Patterns, styler: Styler | None = None
) -> bytes:
    cells = "".join(
        _render(patterns.prefix_text, f"{column_letter(e.col)}{row_number}", e.value,
                _number_style(e, None, styler, lambda _col: None))
        for e in sorted(edits.values(), key=lambda e: e.col)
    ).encode()  # fmt: skip
    if not cells:
        return b""
    row = patterns.prefix + b"row"
    return b"<" + row + b' r="' + str(row_number).encode() + b'">' + cells + b"</" + row + b">"


def _extend_dimension(head: bytes, patterns: _Patterns, max_row: int, max_col: int) -> bytes:
    match = patterns.dimension.search(head)
    if not match:
        return head
    ref = match.group(2).decode()
    first, _, last = ref.partition(":")
    last = last or first
    parts = re.match(r"([A-Z]+)(\d+)", last)
    if not parts:
        return head
    end_col = max(column_index(parts.group(1)), max_col)
    end_row = max(int(parts.group(2)), max_row)
    new_ref = f"{first}:{column_letter(end_col)}{end_row}"
    if new_ref == ref:
        return head
    return head[: match.start(2)] + new_ref.encode() + head[match.end(2) :]


_NO_ROW = 1 << 62  # past any row a sheet can have


def _rows_in(
    chunk: bytes, patterns: _Patterns, pos: int = 0
) -> Iterator[tuple[re.Match[bytes], int]]:
    """Each row's start tag in a chunk of whole rows (from `pos`), and where its </row>
    starts (the tag's end for an empty <row/>).

    Found with bytes.find, which passes over a row's cells far faster than a regular
    expression search, which stops at every '<' to try a match.
    """
    opening = patterns.row_open
    closing = patterns.row_end
    while (at := chunk.find(opening, pos)) >= 0:
        match = patterns.row_tag.match(chunk, at)
        if match is None:  # <rowBreaks> and the like
            pos = at + len(opening)
            continue
        if match.group(3):
            yield match, match.end()
            pos = match.end()
            continue
        close = chunk.find(closing, match.end())
        if close < 0:
            raise SheetXmlError(f"a row is not closed: {match.group().decode(errors='replace')}")
        yield match, close
        pos = close + len(closing)


def _extent(edits: Mapping[int, Mapping[int, Edit]]) -> tuple[int, int]:
    """The last row and the last column (1-based, 0-based) that get a value; -1 if none."""
    max_row = next(
        (row for row in sorted(edits, reverse=True)
         if any(edit.value is not None for edit in edits[row].values())),
        -1,
    )  # fmt: skip
    columns = sorted(set().union(*edits.values()), reverse=True)
    max_col = next(
        (col for col in columns
         if any(col in cells and cells[col].value is not None for cells in edits.values())),
        -1,
    )  # fmt: skip
    return max_row, max_col


def _edited_head(
    head: bytes, patterns: _Patterns, edits: Mapping[int, Mapping[int, Edit]]
) -> bytes:
    """The part up to <sheetData>, its dimension grown to take in the edits; an empty
    <sheetData/> comes back opened, filled with the new rows and closed."""
    max_row, max_col = _extent(edits)
    if max_row >= 0:
        head = _extend_dimension(head, patterns, max_row, max_col)
    tag = re.search(rb"<(\w+:)?sheetData\b[^>]*?/>$", head)
    if tag is None:
        return head
    rows = b"".join(_new_row(r, edits[r], patterns) for r in sorted(edits))
    sheet_data = patterns.prefix + b"sheetData"
    return head[: tag.start()] + b"<" + sheet_data + b">" + rows + b"</" + sheet_data + b">"


def rewrite_sheet(
    chunks: Iterable[bytes], edits: Mapping[int, Mapping[int, Edit]], styler: Styler | None = None
) -> Iterator[bytes]:
    """Apply cell edits keyed by 1-based row number, streaming the part through; with a
    `styler`, written numbers get the number formats their edits ask for."""
    stream = _SheetStream(chunks)
    head, patterns, empty = stream.head()
    yield _edited_head(head, patterns, edits)
    if not empty:
        yield from _edited_rows(stream.rows(patterns), edits, patterns, styler)
    yield from stream.tail()


def _edited_rows(
    chunks: Iterable[bytes],
    edits: Mapping[int, Mapping[int, Edit]],
    patterns: _Patterns,
    styler: Styler | None = None,
) -> Iterator[bytes]:
    """Chunks of whole rows with their edits applied, and the rows to create after them."""
    pending = sorted(edits)
    next_index = 0
    next_row = pending[0] if pending else _NO_ROW
    row_number = 0
    row_end = patterns.row_end
    for chunk in chunks:
        out = []
        last = 0
        for match, close in _rows_in(chunk, patterns):
            row_number = _row_number(match, row_number)
            while next_row < row_number:  # rows to create before this one
                out.append(chunk[last : match.start()])
                last = match.start()
                out.append(_new_row(next_row, edits[next_row], patterns, styler))
                next_index += 1
                next_row = pending[next_index] if next_index < len(pending) else _NO_ROW
            if next_row == row_number:
                end = match.end() if match.group(3) else close + len(row_end)
                out.append(chunk[last : match.start()])
                out.append(
                    _edit_row(chunk, match, end, row_number, edits[row_number], patterns, styler)
                )
                last = end
                next_index += 1
                next_row = pending[next_index] if next_index < len(pending) else _NO_ROW
        out.append(chunk[last:])
        yield b"".join(out)
    yield b"".join(_new_row(row, edits[row], patterns, styler) for row in pending[next_index:])
