"""Sources: where milestone tables live. Each implements `base.Source`."""

from __future__ import annotations

from pathlib import Path

from milestone_sheets.config import Config, is_remote
from milestone_sheets.errors import ConfigError
from milestone_sheets.sources.base import Book, Source

__all__ = ["Book", "Source", "identity", "location_of", "open_source"]


def location_of(location: str | None, config: Config) -> str:
    """The location given, else the config's [source] location (relative to the config
    file; a SOURCE given on the command line is relative to the current folder)."""
    if location is not None:
        return location
    if not config.source.location:
        raise ConfigError(
            "no source given: pass SOURCE, or set [source] location in milestone-sheets.toml"
        )
    return config.resolve(config.source.location)


def open_source(location: str | None, config: Config, *, backup: bool = False) -> Source:
    """The source a location names: a workbook path, a Google Sheets URL or gsheet:KEY."""
    location = location_of(location, config)
    if is_remote(location):
        from milestone_sheets.sources.google import GoogleSource

        return GoogleSource(location, config)
    from milestone_sheets.sources.excel import ExcelSource

    return ExcelSource(Path(location).expanduser(), backup=backup)


def identity(location: str) -> str:
    """What the history knows a source by, however it is named: a Google Sheet's
    `gsheet:KEY`, a workbook's resolved path."""
    if is_remote(location):
        from milestone_sheets.sources.google import parse_location

        ref = parse_location(location)
        if ref is not None:
            return f"gsheet:{ref.key}"
        return location
    return str(Path(location).expanduser().resolve())
