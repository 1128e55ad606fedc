"""Excel workbooks (.xlsx, .xlsm): read with python-calamine, written at the package level.

Reading takes the saved values (formula results as Excel last computed them) from
python-calamine, which is fast (a large sheet is parsed in two halves at once, see
`sources/split_read.py`), and which cells hold formulas from one streaming pass over the
worksheet XML (on a large sheet, in a child process while this one parses, see
`sources/background_scan.py`). Writing goes through a `WorkbookWriter`; the default one
edits the package in place (see `sources/package_writer.py`).
"""

from __future__ import annotations

import functools
import hashlib
import os
import posixpath
import re
import shutil
import zipfile
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol
from xml.etree import ElementTree

import python_calamine

from milestone_sheets.errors import SheetChangedError, SourceError
from milestone_sheets.model import SheetGrid, column_letter
from milestone_sheets.sources import background_scan, sheetxml, split_read, zippkg
from milestone_sheets.sources.base import CellWrite, RowGuard

EXTENSIONS = (".xlsx", ".xlsm")
_REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_OFFICE_DOCUMENT = re.compile(r"/officeDocument$")
# A worksheet part this large (about 20,000 milestone rows) has its formulas found in a
# child process where one can be forked (see sources/background_scan.py).
BACKGROUND_SCAN_BYTES = 16 << 20


@dataclass(frozen=True)
class Fingerprint:
    """What identifies the file's content: a change to any of these is a change."""

    size: int
    mtime_ns: int
    sha256: str


def fingerprint(path: Path) -> Fingerprint:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            digest.update(chunk)
    stat = path.stat()
    return Fingerprint(stat.st_size, stat.st_mtime_ns, digest.hexdigest())


def lock_files(path: Path) -> list[Path]:
    """The lock files Excel and LibreOffice keep beside a workbook they have open."""
    candidates = [path.with_name(f"~${path.name}"), path.with_name(f".~lock.{path.name}#")]
    return [candidate for candidate in candidates if candidate.exists()]


@dataclass(frozen=True)
class PackageMap:
    """Where the workbook part and each worksheet's part are inside the zip."""

    workbook_part: str
    sheet_parts: Mapping[str, str]  # title -> part name


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


def read_package_map(archive: zipfile.ZipFile) -> PackageMap:
    root_rels = _targets(archive.read("_rels/.rels"), "")
    workbook_part = next(
        part for rel_type, part in root_rels.values() if _OFFICE_DOCUMENT.search(rel_type)
    )
    workbook_rels = _targets(
        archive.read(_rels_name(workbook_part)), posixpath.dirname(workbook_part)
    )
    workbook = ElementTree.fromstring(archive.read(workbook_part))
    sheets = {}
    for sheet in workbook.iter():
        if sheet.tag.endswith("}sheet"):
            rel_id = sheet.get(f"{{{_REL_NS}}}id", "")
            if rel_id in workbook_rels:
                sheets[sheet.get("name", "")] = workbook_rels[rel_id][1]
    return PackageMap(workbook_part, sheets)


class WorkbookWriter(Protocol):
    """Writes cell edits into a workbook file; swappable."""

    def write(
        self,
        path: Path,
        package: PackageMap,
        edits: Mapping[str, Mapping[int, Mapping[int, sheetxml.Edit]]],
        target: Path,
    ) -> None:
        """Write `path` with the edits (by sheet title, 1-based row, 0-based column) to `target`."""
        ...


@dataclass
class ExcelBook:
    """A snapshot of a workbook: titles now, grids on demand, and the file's fingerprint."""

    path: Path
    package: PackageMap
    fingerprint: Fingerprint
    titles: list[str]
    _cache: dict[str, SheetGrid] = field(default_factory=dict)

    def grids(self, titles: Sequence[str]) -> dict[str, SheetGrid]:
        missing = [title for title in titles if title not in self._cache]
        if missing:
            self._load(missing)
        return {title: self._cache[title] for title in titles}

    def _load(self, titles: Sequence[str]) -> None:
        """Values from python-calamine, formulas from our own scan, side by side.

        calamine's parse releases the GIL for much of its work, so it runs on other
        threads (two for a large sheet, see `split_read`). The formula scan of a large
        sheet runs in a child process after the read (see `background_scan`); a small one's
        runs on this thread while calamine parses.
        """
        # Opened on first use, on a worker thread: a split read needs no whole file.
        workbook = functools.cache(
            lambda: python_calamine.CalamineWorkbook.from_path(str(self.path))
        )
        try:
            with open(self.path, "rb") as stream:
                entries = {entry.name: entry for entry in zippkg.read_entries(stream)[0]}
                parts = {
                    title: entries.get(self.package.sheet_parts.get(title, "")) for title in titles
                }
                scans: dict[str, background_scan.Scan] = {}
                for title, entry in parts.items():  # forked before any thread starts
                    if entry is not None and entry.size >= BACKGROUND_SCAN_BYTES:
                        if background_scan.can_fork():
                            scans[title] = background_scan.start(self.path, entry)
                with ThreadPoolExecutor(max_workers=2) as pool:
                    for title, entry in parts.items():
                        values = split_read.submit(pool, workbook, self.path, stream, entry, title)
                        if title in scans:
                            rows = values()
                            scans[title].go()  # the read is done: the core is free
                            self._cache[title] = _GridScanning(title, rows, scans[title], self.path)
                            continue
                        scan = sheetxml.FormulaScan(frozenset(), frozenset())
                        if entry is not None:
                            scan = sheetxml.scan_formulas(zippkg.iter_part(stream, entry))
                        self._cache[title] = SheetGrid(
                            title, values(), scan.formula_cells, scan.uncached_cells
                        )
        except (python_calamine.CalamineError, zippkg.PackageError, sheetxml.SheetXmlError) as err:
            raise _unreadable(self.path, err) from None


def _unreadable(path: Path, err: Exception) -> SourceError:
    """A workbook whose parts calamine or our own XML reading cannot make sense of."""
    return SourceError(f"{path}: cannot read the workbook: {err}")


class _GridScanning(SheetGrid):
    """A grid whose formula cells are still being found: asking for them waits."""

    _scan: background_scan.Scan
    _path: Path

    def __init__(self, title: str, rows: list[list[Any]], scan: background_scan.Scan, path: Path):
        object.__setattr__(self, "title", title)
        object.__setattr__(self, "rows", rows)
        object.__setattr__(self, "_scan", scan)
        object.__setattr__(self, "_path", path)

    def _scanned(self) -> sheetxml.FormulaScan:
        try:
            return self._scan.result()
        except sheetxml.SheetXmlError as err:
            raise _unreadable(self._path, err) from None

    @property  # type: ignore[override]
    def formula_cells(self) -> frozenset[tuple[int, int]]:
        return self._scanned().formula_cells

    @property  # type: ignore[override]
    def uncached_cells(self) -> frozenset[tuple[int, int]]:
        return self._scanned().uncached_cells


class ExcelSource:
    """An .xlsx or .xlsm workbook on disk."""

    max_attempts = 2  # read, and on a change under us, read once more

    def __init__(self, path: Path, writer: WorkbookWriter | None = None, backup: bool = False):
        self.path = path.resolve()
        self.location = str(self.path)
        self.uri = self.path.as_uri()
        self.backup = backup
        if writer is None:
            from milestone_sheets.sources.package_writer import PackageWriter

            writer = PackageWriter()
        self.writer = writer

    def read(self) -> ExcelBook:
        if self.path.suffix.lower() not in EXTENSIONS:
            raise SourceError(f"{self.path}: not an Excel workbook (.xlsx or .xlsm)")
        if not self.path.exists():
            raise SourceError(f"{self.path}: file not found")
        try:
            before = fingerprint(self.path)
            with zipfile.ZipFile(self.path) as archive:
                package = read_package_map(archive)
            titles = list(package.sheet_parts)
        except (zipfile.BadZipFile, KeyError, StopIteration, ElementTree.ParseError) as err:
            raise SourceError(f"{self.path}: not a readable Excel workbook ({err})") from None
        except OSError as err:
            raise SourceError(f"{self.path}: cannot read: {err.strerror}") from None
        return ExcelBook(self.path, package, before, titles)

    def write(
        self, book: ExcelBook, writes: Sequence[CellWrite], guards: Sequence[RowGuard] = ()
    ) -> list[str]:
        """Write through the writer, atomically; formulas were already found at read time."""
        if not writes:
            return []
        locks = lock_files(self.path)
        if locks:
            raise SourceError(
                f"{self.path}: the workbook is open in Excel or LibreOffice ({locks[0].name} "
                "exists); close it and run again. Nothing was written."
            )
        # A CellWrite is a sheetxml.Edit (col, value, style_like): no copy per cell.
        edits: dict[str, dict[int, dict[int, sheetxml.Edit]]] = {}
        sheet, row, cells = "", -1, {}
        for write in writes:  # grouped by sheet and row, one dict per row
            if write.row != row or write.sheet != sheet:
                sheet, row = write.sheet, write.row
                cells = edits.setdefault(sheet, {}).setdefault(row + 1, {})
            cells[write.col] = write
        temp = self.path.with_name(f".{self.path.name}.milestone-sheets.tmp")
        try:
            self._check_unchanged(book)
            self.writer.write(self.path, book.package, edits, temp)
            self._check_unchanged(book)
            if self.backup:
                _keep_backup(self.path)
            _replace(temp, self.path)
            return []
        except OSError as err:
            raise SourceError(
                f"{self.path}: cannot write: {err.strerror or err}. Nothing was written."
            ) from None
        finally:
            temp.unlink(missing_ok=True)

    def _check_unchanged(self, book: ExcelBook) -> None:
        if fingerprint(self.path) != book.fingerprint:
            raise SheetChangedError(f"{self.path}: the workbook changed on disk during the sync")

    def link(self, sheet: str, row: int, col: int = 0) -> str:
        """The workbook's file:// URI and the cell: `file:///plans/plan.xlsx#Milestones!A7`."""
        return f"{self.uri}#{sheet}!{column_letter(col)}{row + 1}"


def _replace(temp: Path, path: Path) -> None:
    """Atomically put the finished temporary file in place, durable across a crash."""
    try:
        os.chmod(temp, path.stat().st_mode & 0o7777)
    except FileNotFoundError:
        pass
    os.replace(temp, path)
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def backup_path(path: Path) -> Path:
    """Where `sync --backup` keeps the previous file: `plan.bak.xlsx` beside `plan.xlsx`."""
    return path.with_name(f"{path.stem}.bak{path.suffix}")


def _keep_backup(path: Path) -> None:
    """Keep the current file as the backup (a hard link where possible, else a copy)."""
    backup = backup_path(path)
    temp = backup.with_name(f".{backup.name}.tmp")
    temp.unlink(missing_ok=True)
    try:
        os.link(path, temp)
    except OSError:
        shutil.copy2(path, temp)
    os.replace(temp, backup)
