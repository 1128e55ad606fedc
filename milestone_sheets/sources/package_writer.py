"""The default workbook writer: edits the zip package in place, losing nothing.

Every part the sync does not touch is copied as its raw compressed bytes. The touched
worksheet is streamed through `sheetxml.rewrite_sheet`; workbook.xml gets its
recalculate-on-open flag, so a user's formula over a computed column is fresh when Excel
or LibreOffice opens the file; a table (ListObject) whose header row the new computed
columns extend grows to cover them.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import BinaryIO

from milestone_sheets.model import column_index, column_letter
from milestone_sheets.sources import sheetxml, split_write, zippkg
from milestone_sheets.sources.excel import PackageMap, _rels_name, _targets

_CALC_PR = re.compile(rb"<(\w+:)?calcPr\b([^>]*?)(/?)>")
_TABLE_TYPE = re.compile(r"/table$")
# Elements that come before <calcPr> in CT_Workbook, the last present one is our anchor.
_BEFORE_CALC = (b"definedNames", b"externalReferences", b"functionGroups", b"sheets")


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
        raise sheetxml.SheetXmlError("workbook.xml has no <sheets> element")
    return workbook_xml[:at] + b"<" + p + b'calcPr fullCalcOnLoad="1"/>' + workbook_xml[at:]


def _ref_bounds(ref: str) -> tuple[int, int, int, int]:
    """A1:B2 -> (first row, first col, last row, last col), 1-based rows, 0-based cols."""
    first, _, last = ref.partition(":")
    last = last or first
    a = re.fullmatch(r"\$?([A-Z]+)\$?(\d+)", first)
    b = re.fullmatch(r"\$?([A-Z]+)\$?(\d+)", last)
    if not a or not b:
        raise sheetxml.SheetXmlError(f"unexpected range {ref}")
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
        raise sheetxml.SheetXmlError("table part has no <tableColumns>")
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
        + sheetxml.xml_attribute(name).encode("utf-8")
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


class PackageWriter:
    """Writes computed cells by editing the workbook package; see the module docstring."""

    # zlib-ng's level 4 deflates a sheet about twice as fast as zlib's default level 6,
    # for a part some 2% larger. On a large sheet (an 87 MB part: 100,000 rows) even that
    # takes 0.4 s, longer than the XML editing beside it, so a large sheet gets the FAST
    # level: ISA-L's level 2, 0.08 s for a part 16% larger (12.9 MB against 11.2).
    compress_level = 4
    large_part_level = zippkg.FAST
    large_part_bytes = 16 << 20  # uncompressed; about 20,000 milestone rows

    def write(
        self,
        path: Path,
        package: PackageMap,
        edits: Mapping[str, Mapping[int, Mapping[int, sheetxml.Edit]]],
        target: Path,
    ) -> None:
        with open(path, "rb") as source:
            entries = {entry.name: entry for entry in zippkg.read_entries(source)[0]}
            parts = {title: package.sheet_parts[title] for title in edits}
            large = any(entries[part].size >= self.large_part_bytes for part in parts.values())
            level = self.large_part_level if large else self.compress_level
            transforms: dict[str, zippkg.Transform | zippkg.Inline] = {}
            contents: dict[str, list[bytes]] = {}  # small parts replaced whole
            for title, sheet_edits in edits.items():
                part = parts[title]
                # Before rewrite starts its threads: this may fork (see split_write).
                transforms[part] = split_write.transform(path, entries[part], sheet_edits, level)
                contents.update(self._extended_tables(source, entries, part, sheet_edits))
            workbook = zippkg.read_part(source, entries[package.workbook_part])
            calc = set_full_calc_on_load(workbook)
            if calc != workbook:
                contents[package.workbook_part] = [calc]
            with open(target, "wb") as out:
                zippkg.rewrite(source, out, transforms, level, contents)
                out.flush()
                os.fsync(out.fileno())

    def _extended_tables(
        self,
        source: BinaryIO,
        entries: Mapping[str, zippkg.Entry],
        sheet_part: str,
        sheet_edits: Mapping[int, Mapping[int, sheetxml.Edit]],
    ) -> dict[str, list[bytes]]:
        """Tables whose header row gains computed columns just right of them grow: their
        parts' new content."""
        rels = _rels_name(sheet_part)
        if rels not in entries:
            return {}
        targets = _targets(zippkg.read_part(source, entries[rels]), os.path.dirname(sheet_part))
        contents: dict[str, list[bytes]] = {}
        for rel_type, part in targets.values():
            if not _TABLE_TYPE.search(rel_type) or part not in entries:
                continue
            table_xml = zippkg.read_part(source, entries[part])
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
                    contents[part] = [extended]
        return contents
