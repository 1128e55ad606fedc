"""An Excel workbook (.xlsx, .xlsm) on disk, as a Source.

Reading takes the saved values (formula results as Excel last computed them) from
python-calamine, and which cells hold formulas from one streaming pass over the worksheet
XML (calamine gives values only). Writing edits the package (see `workbook`) into a
private temporary file beside the workbook, which then replaces it atomically.
"""

from __future__ import annotations

import glob
import hashlib
import os
import shutil
import stat
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from xml.etree import ElementTree

import python_calamine

from milestone_sheets import files
from milestone_sheets.changes import CellWrite, RowGuard
from milestone_sheets.domain.grid import SheetGrid, column_letter
from milestone_sheets.errors import SheetChangedError, SourceError
from milestone_sheets.sources.excel import package, workbook, worksheet

EXTENSIONS = (".xlsx", ".xlsm")


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


@dataclass
class ExcelBook:
    """A snapshot of a workbook: titles now, grids on demand, and the file's fingerprint."""

    source: ExcelSource
    package_map: workbook.PackageMap
    fingerprint: Fingerprint
    _cache: dict[str, SheetGrid] = field(default_factory=dict)

    @property
    def titles(self) -> list[str]:
        return list(self.package_map.sheet_parts)

    @property
    def preferred_title(self) -> str | None:
        return None

    def grids(self, titles: Sequence[str]) -> dict[str, SheetGrid]:
        missing = [title for title in titles if title not in self._cache]
        if missing:
            self._cache.update(self.source.read_grids(self.package_map, missing))
        return {title: self._cache[title] for title in titles}

    def write(self, writes: Sequence[CellWrite], guards: Sequence[RowGuard] = ()) -> list[str]:
        # A workbook is checked whole (its fingerprint), so row guards are not needed.
        return self.source.write(self, writes)


class ExcelSource:
    """An .xlsx or .xlsm workbook on disk."""

    max_attempts = 2  # read, and on a change under us, read once more

    def __init__(self, path: Path, backup: bool = False):
        self.path = path.resolve()
        self.location = str(self.path)
        self.backup = backup

    def read(self) -> ExcelBook:
        if self.path.suffix.lower() not in EXTENSIONS:
            raise SourceError(f"{self.path}: not an Excel workbook (.xlsx or .xlsm)")
        if not self.path.exists():
            raise SourceError(f"{self.path}: file not found")
        try:
            before = fingerprint(self.path)
            with open(self.path, "rb") as stream:
                entries = {entry.name: entry for entry in package.read_entries(stream)[0]}
                package_map = workbook.read_package_map(stream, entries)
                # Every part but the worksheets (checked as they are scanned) is checked
                # to inflate as its directory says before calamine opens the file.
                sheets = set(package_map.sheet_parts.values())
                package.check_parts(stream, [e for e in entries.values() if e.name not in sheets])
        except (package.PackageError, ElementTree.ParseError, OSError) as err:
            raise _unreadable(self.path, err) from None
        return ExcelBook(self, package_map, before)

    def read_grids(
        self, package_map: workbook.PackageMap, titles: Sequence[str]
    ) -> dict[str, SheetGrid]:
        """Values from python-calamine, formulas from our own scan of each sheet's XML."""
        grids = {}
        try:
            with open(self.path, "rb") as stream:
                entries = {entry.name: entry for entry in package.read_entries(stream)[0]}
                # Our own scan first: it refuses a part that inflates past its size or a
                # reference past the sheet's last cell before calamine reads the sheet.
                scans = {}
                for title in titles:
                    entry = entries.get(package_map.sheet_parts[title])
                    scans[title] = (
                        worksheet.scan_formulas(package.iter_part(stream, entry))
                        if entry is not None
                        else worksheet.FormulaScan(frozenset(), frozenset())
                    )
                copy = workbook.reader_copy(stream, package_map)
                book = (
                    python_calamine.CalamineWorkbook.from_filelike(copy)
                    if copy is not None
                    else python_calamine.CalamineWorkbook.from_path(str(self.path))
                )
                for title in titles:
                    sheet = book.get_sheet_by_name(title)
                    rows = sheet.to_python(skip_empty_area=False)
                    scan = scans[title]
                    part = package_map.sheet_parts[title]
                    merged = tuple((r0, c0, r1, c1)
                                   for (r0, c0), (r1, c1) in sheet.merged_cell_ranges or ())  # fmt: skip
                    tables = tuple(t.area for t in workbook.sheet_tables(stream, entries, part))
                    grids[title] = SheetGrid(title, rows, scan.formula_cells, scan.uncached_cells,
                                             merged, tables)  # fmt: skip
        except (python_calamine.CalamineError, package.PackageError, worksheet.SheetXmlError,
                OSError) as err:  # fmt: skip
            raise _unreadable(self.path, err) from None
        return grids

    def write(self, book: ExcelBook, writes: Sequence[CellWrite]) -> list[str]:
        """Write the cells into a private temporary copy, then replace the workbook."""
        if not writes:
            return []
        locks = lock_files(self.path)
        if locks:
            raise SourceError(
                f"{self.path}: the workbook is open in Excel or LibreOffice ({locks[0].name} "
                "exists); close it and run again. Nothing was written."
            )
        edits: dict[str, dict[int, dict[int, worksheet.Edit]]] = {}
        for write in writes:  # a CellWrite is a worksheet.Edit (col, value, style_like)
            edits.setdefault(write.sheet, {}).setdefault(write.row + 1, {})[write.col] = write
        try:
            self._check_unchanged(book)
            original = self.path.stat()
            if not original.st_mode & 0o222:
                raise SourceError(
                    f"{self.path}: the workbook is read-only (mode "
                    f"{stat.filemode(original.st_mode)}); make it writable to let milestone-sheets "
                    "update it (chmod u+w), or use --dry-run. Nothing was written."
                )
            with files.temporary_beside(self.path, original.st_mode & 0o777) as (temp, stream):
                workbook.write_workbook(self.path, book.package_map, edits, stream)
                files.keep_owner(stream, original, self.path)
                stream.flush()
                self._check_unchanged(book)
                if self.backup:
                    _keep_backup(self.path, original)
                files.replace(temp, self.path, stream)
            return []
        except OSError as err:
            raise SourceError(
                f"{self.path}: cannot write: {err.strerror or err}. Nothing was written."
            ) from None
        except (package.PackageError, worksheet.SheetXmlError) as err:
            raise SourceError(f"{self.path}: cannot write: {err}. Nothing was written.") from None

    def _check_unchanged(self, book: ExcelBook) -> None:
        if fingerprint(self.path) != book.fingerprint:
            raise SheetChangedError(f"{self.path}: the workbook changed on disk during the sync")

    def lock_path(self, state_dir: Path) -> Path:
        """Beside the workbook (its real path), so that syncs under two configs, or by
        two users of a shared folder, take turns."""
        return self.path.with_name(f".{self.path.name}.milestone-sheets.lock")

    def recover(self) -> None:
        """Remove the temporary files a killed sync left beside the workbook (kill -9
        gives it no chance to); the caller holds the lock, so no sync is writing them."""
        for name in (self.path.name, backup_path(self.path).name):
            for left in self.path.parent.glob(f".{glob.escape(name)}.*.tmp"):
                if left.is_file() and not left.is_symlink() and left.stat().st_uid == os.geteuid():
                    left.unlink(missing_ok=True)

    def link(self, sheet: str, row: int, col: int = 0) -> str:
        """The workbook's file:// URI and the cell: `file:///plans/plan.xlsx#Milestones!A7`."""
        return f"{self.path.as_uri()}#{sheet}!{column_letter(col)}{row + 1}"


def _unreadable(path: Path, err: Exception) -> SourceError:
    """A workbook whose parts calamine or our own XML reading cannot make sense of."""
    reason = err.strerror if isinstance(err, OSError) and err.strerror else err
    return SourceError(f"{path}: not a readable Excel workbook ({reason})")


def backup_path(path: Path) -> Path:
    """Where `sync --backup` keeps the previous file: `plan.bak.xlsx` beside `plan.xlsx`."""
    return path.with_name(f"{path.stem}.bak{path.suffix}")


def _keep_backup(path: Path, original: os.stat_result) -> None:
    """Keep the current file as the backup, written the way the workbook is."""
    backup = backup_path(path)
    with files.temporary_beside(backup, original.st_mode & 0o777) as (temp, stream):
        with open(path, "rb") as current:
            shutil.copyfileobj(current, stream)
        files.keep_owner(stream, original, path)
        files.replace(temp, backup, stream)
