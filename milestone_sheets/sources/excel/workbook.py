"""The workbook's own XML: where each worksheet's part is, and the edits a sync makes
beside the worksheet itself.

`write_workbook` writes the whole package: the edited worksheets are streamed through
`worksheet.rewrite_sheet`; workbook.xml gets its recalculate-on-open flag, so a user's
formula over a computed column is fresh when Excel or LibreOffice opens the file; a table
(ListObject) whose header row the new computed columns extend grows to cover them. Every
other part is copied byte for byte (`package.rewrite`).
"""

from __future__ import annotations

import io
import posixpath
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO
from xml.etree import ElementTree

from milestone_sheets.domain.grid import column_index, column_letter
from milestone_sheets.sources.excel import package, worksheet
from milestone_sheets.sources.excel.styles import Styler

# The relationships namespace of a sheet's r:id: Transitional, and Strict Open XML's.
_REL_NAMESPACES = (
    "http://schemas.openxmlformats.org/officeDocument/2006/relationships",
    "http://purl.oclc.org/ooxml/officeDocument/relationships",
)
_SHEET_WITHOUT_PART = re.compile(rb'<(\w+:)?sheet\b[^>]*?\s\w+:id=""[^>]*?/>')
_OFFICE_DOCUMENT = re.compile(r"/officeDocument$")
_CALC_PR = re.compile(rb"<(\w+:)?calcPr\b([^>]*?)(/?)>")
_TABLE_TYPE = re.compile(r"/table$")
_STYLES_TYPE = re.compile(r"/styles$")
# Elements that come before <calcPr> in CT_Workbook, the last present one is our anchor.
_BEFORE_CALC = (b"definedNames", b"externalReferences", b"functionGroups", b"sheets")

Edits = Mapping[str, Mapping[int, Mapping[int, worksheet.Edit]]]  # title -> row -> col


@dataclass(frozen=True)
class PackageMap:
    """Where the workbook part and each worksheet's part are inside the zip."""

    workbook_part: str
    sheet_parts: Mapping[str, str]  # title -> part name
    # workbook.xml for readers without the sheets that name no part (r:id="", as some
    # macro sheets have), which calamine refuses; None when there are none.
    reader_workbook: bytes | None = None
    styles_part: str | None = None  # the cell formats (number formats among them)


def _rels_name(part: str) -> str:
    folder, name = posixpath.split(part)
    return posixpath.join(folder, "_rels", name + ".rels")


def _targets(rels_xml: bytes, base_folder: str) -> dict[str, tuple[str, str]]:
    """Relationship id -> (type, absolute part name)."""
    targets = {}
    for rel in ElementTree.fromstring(rels_xml):
        target = rel.get("Target", "")
        if rel.get("TargetMode") == "External":
            continue
        part = (
            target.lstrip("/")
            if target.startswith("/")
            else posixpath.normpath(posixpath.join(base_folder, target))
        )
        targets[rel.get("Id", "")] = (rel.get("Type", ""), part)
    return targets


def read_package_map(stream: BinaryIO, entries: Mapping[str, package.Entry]) -> PackageMap:
    """Where the workbook part and its worksheets' parts are."""

    def read(name: str) -> bytes:
        if name not in entries:
            raise package.PackageError(f"the package has no part {name}")
        return package.read_part(stream, entries[name])

    root_rels = _targets(read("_rels/.rels"), "")
    workbook_part = next(
        (part for rel_type, part in root_rels.values() if _OFFICE_DOCUMENT.search(rel_type)),
        None,
    )
    if workbook_part is None:
        raise package.PackageError("the package names no workbook part")
    workbook_rels = _targets(read(_rels_name(workbook_part)), posixpath.dirname(workbook_part))
    workbook_xml = read(workbook_part)
    workbook = ElementTree.fromstring(workbook_xml)
    sheets = {}
    for sheet in workbook.iter():
        if sheet.tag.endswith("}sheet"):
            rel_id = next((sheet.get(f"{{{ns}}}id") for ns in _REL_NAMESPACES
                           if sheet.get(f"{{{ns}}}id") is not None), "")  # fmt: skip
            if rel_id in workbook_rels:
                sheets[sheet.get("name", "")] = workbook_rels[rel_id][1]
    reader = _SHEET_WITHOUT_PART.sub(b"", workbook_xml)
    styles = next((part for rel_type, part in workbook_rels.values()
                   if _STYLES_TYPE.search(rel_type)), None)  # fmt: skip
    return PackageMap(workbook_part, sheets, reader if reader != workbook_xml else None, styles)


def reader_copy(source: BinaryIO, package_map: PackageMap) -> io.BytesIO | None:
    """An in-memory copy of the package for a reader that refuses sheets naming no
    part: the same parts, with reader_workbook as workbook.xml; None if not needed."""
    if package_map.reader_workbook is None:
        return None
    copy = io.BytesIO()
    package.rewrite(source, copy, {}, {package_map.workbook_part: package_map.reader_workbook})
    copy.seek(0)
    return copy


def set_full_calc_on_load(workbook_xml: bytes) -> bytes:
    """workbook.xml with <calcPr fullCalcOnLoad="1"/>, added or set."""
    match = _CALC_PR.search(workbook_xml)
    if match:
        attrs = match.group(2)
        if re.search(rb'\bfullCalcOnLoad="(1|true)"', attrs):
            return workbook_xml
        attrs = re.sub(rb'\s*\bfullCalcOnLoad="[^"]*"', b"", attrs)
        tag = (
            b"<"
            + (match.group(1) or b"")
            + b"calcPr"
            + attrs
            + b' fullCalcOnLoad="1"'
            + match.group(3)
            + b">"
        )
        return workbook_xml[: match.start()] + tag + workbook_xml[match.end() :]
    prefix = re.search(rb"<(\w+:)?workbook\b", workbook_xml)
    p = (prefix.group(1) or b"") if prefix else b""
    for name in _BEFORE_CALC:
        closing = workbook_xml.rfind(b"</" + p + name + b">")
        if closing >= 0:
            at = closing + len(b"</" + p + name + b">")
            break
        empty = re.search(rb"<" + re.escape(p + name) + rb"\b[^>]*/>", workbook_xml)
        if empty:
            at = empty.end()
            break
    else:
        raise worksheet.SheetXmlError("workbook.xml has no <sheets> element")
    return workbook_xml[:at] + b"<" + p + b'calcPr fullCalcOnLoad="1"/>' + workbook_xml[at:]


def _ref_bounds(ref: str) -> tuple[int, int, int, int]:
    """A1:B2 -> (first row, first col, last row, last col), 1-based rows, 0-based cols."""
    first, _, last = ref.partition(":")
    last = last or first
    a = re.fullmatch(r"\$?([A-Z]+)\$?(\d+)", first)
    b = re.fullmatch(r"\$?([A-Z]+)\$?(\d+)", last)
    if not a or not b:
        raise worksheet.SheetXmlError(f"unexpected range {ref}")
    return int(a.group(2)), column_index(a.group(1)), int(b.group(2)), column_index(b.group(1))


def extend_table(table_xml: bytes, header_row: int, new_columns: Mapping[int, str]) -> bytes | None:
    """A table part widened to take in new header cells just right of it, or None if unaffected.

    `new_columns` maps 0-based columns to the header text written there.
    """
    match = re.search(rb'<(\w+:)?table\b[^>]*?\bref="([^"]+)"', table_xml)
    if not match:
        return None
    first_row, first_col, last_row, last_col = _ref_bounds(match.group(2).decode())
    if first_row != header_row:
        return None
    added = []
    col = last_col + 1
    while col in new_columns:
        added.append(new_columns[col])
        col += 1
    if not added:
        return None
    p = match.group(1) or b""
    new_ref = (
        f"{column_letter(first_col)}{first_row}:{column_letter(last_col + len(added))}{last_row}"
    )
    out = table_xml[: match.start(2)] + new_ref.encode() + table_xml[match.end(2) :]
    # An autoFilter inside the table spans the same columns.
    out = re.sub(
        rb"(<" + re.escape(p) + rb'autoFilter\b[^>]*?\bref=")([^"]+)(")',
        lambda m: m.group(1) + _widen(m.group(2).decode(), len(added)).encode() + m.group(3),
        out,
        count=1,
    )
    columns = re.search(
        rb"<" + re.escape(p) + rb'tableColumns\b([^>]*?)\bcount="(\d+)"([^>]*)>', out
    )
    if not columns:
        raise worksheet.SheetXmlError("table part has no <tableColumns>")
    ids = [
        int(i) for i in re.findall(rb"<" + re.escape(p) + rb'tableColumn\b[^>]*?\bid="(\d+)"', out)
    ]
    next_id = max(ids, default=0) + 1
    new_elements = b"".join(
        b"<"
        + p
        + b'tableColumn id="'
        + str(next_id + i).encode()
        + b'" name='
        + worksheet.xml_attribute(name).encode("utf-8")
        + b"/>"
        for i, name in enumerate(added)
    )
    count = int(columns.group(2)) + len(added)
    out = out[: columns.start(2)] + str(count).encode() + out[columns.end(2) :]
    closing = out.find(b"</" + p + b"tableColumns>")
    return out[:closing] + new_elements + out[closing:]


def _widen(ref: str, extra: int) -> str:
    first_row, first_col, last_row, last_col = _ref_bounds(ref)
    return f"{column_letter(first_col)}{first_row}:{column_letter(last_col + extra)}{last_row}"


def write_workbook(path: Path, package_map: PackageMap, edits: Edits, target: BinaryIO) -> None:
    """Write `path` with the edits to `target`: see the module docstring."""
    with open(path, "rb") as source:
        entries = {entry.name: entry for entry in package.read_entries(source)[0]}
        transforms: dict[str, package.Transform] = {}
        contents: dict[str, bytes] = {}
        late: dict[str, Callable[[], bytes | None]] = {}
        styler = None
        styles_part = package_map.styles_part
        if styles_part in entries and any(
            edit.number_format is not None
            for rows in edits.values() for cells in rows.values() for edit in cells.values()
        ):  # fmt: skip
            styler = Styler(package.read_part(source, entries[styles_part]))
            late[styles_part] = styler.render  # after the sheets: it holds what they added
        for title, sheet_edits in edits.items():
            part = package_map.sheet_parts[title]
            transforms[part] = _sheet_transform(sheet_edits, styler)
            contents.update(_extended_tables(source, entries, part, sheet_edits))
        workbook = package.read_part(source, entries[package_map.workbook_part])
        calc = set_full_calc_on_load(workbook)
        if calc != workbook:
            contents[package_map.workbook_part] = calc
        package.rewrite(source, target, transforms, contents, late)


def _sheet_transform(
    sheet_edits: Mapping[int, Mapping[int, worksheet.Edit]], styler: Styler | None
) -> package.Transform:
    return lambda chunks: worksheet.rewrite_sheet(chunks, sheet_edits, styler)


@dataclass(frozen=True)
class TablePart:
    """An Excel table (ListObject) of a worksheet: its part, range and kind."""

    part: str
    xml: bytes
    area: tuple[int, int, int, int]  # 0-based inclusive rows and columns
    widens: bool  # a plain worksheet table; a query or XML-mapped table keeps its columns


_TABLE_REF = re.compile(rb'<(\w+:)?table\b[^>]*?\bref="([^"]+)"')
_TABLE_KIND = re.compile(rb'<(\w+:)?table\b[^>]*?\btableType="([^"]+)"')


def sheet_tables(
    source: BinaryIO, entries: Mapping[str, package.Entry], sheet_part: str
) -> list[TablePart]:
    """The tables a worksheet part has, through its relationships."""
    rels = _rels_name(sheet_part)
    if rels not in entries:
        return []
    targets = _targets(package.read_part(source, entries[rels]), posixpath.dirname(sheet_part))
    tables = []
    for rel_type, part in targets.values():
        if not _TABLE_TYPE.search(rel_type) or part not in entries:
            continue
        xml = package.read_part(source, entries[part])
        ref = _TABLE_REF.search(xml)
        if not ref:
            continue
        first_row, first_col, last_row, last_col = _ref_bounds(ref.group(2).decode())
        kind = _TABLE_KIND.search(xml)
        plain = kind is None or kind.group(2) == b"worksheet"
        tables.append(
            TablePart(part, xml, (first_row - 1, first_col, last_row - 1, last_col), plain)
        )
    return tables


def _extended_tables(
    source: BinaryIO,
    entries: Mapping[str, package.Entry],
    sheet_part: str,
    sheet_edits: Mapping[int, Mapping[int, worksheet.Edit]],
) -> dict[str, bytes]:
    """Plain worksheet tables whose header row gains computed columns just right of them
    grow: their parts' new content. A query table (tied to its query) or an XML-mapped
    one keeps its columns, as Excel requires."""
    contents: dict[str, bytes] = {}
    for table in sheet_tables(source, entries, sheet_part):
        if not table.widens:
            continue
        part, table_xml = table.part, table.xml
        for row, cells in sheet_edits.items():
            headers = {
                col: str(edit.value)
                for col, edit in cells.items()
                if edit.style_like is not None and isinstance(edit.value, str)
            }
            if not headers:
                continue
            extended = extend_table(table_xml, row, headers)
            if extended is not None:
                contents[part] = extended
    return contents
