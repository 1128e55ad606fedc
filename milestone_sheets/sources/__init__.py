"""Sources: where milestone tables live. Each implements `base.Source`."""

from __future__ import annotations

from pathlib import Path

from milestone_sheets.config import Config, is_remote
from milestone_sheets.errors import ConfigError
from milestone_sheets.sources.base import Book, Source

__all__ = ["Book", "Source", "open_source"]


def open_source(location: str | None, config: Config, *, backup: bool = False) -> Source:
    """The source a location names: a workbook path, a Google Sheets URL or gsheet:KEY.

    A SOURCE given on the command line is relative to the current folder; the config's
    [source] location is relative to the config file.
    """
    if location is None:
        if not config.source.location:
            raise ConfigError(
                "no source given: pass SOURCE, or set [source] location in milestone-sheets.toml"
            )
        location = config.resolve(config.source.location)
    if is_remote(location):
        from milestone_sheets.sources.google import GoogleSource

        return GoogleSource(location, config)
    from milestone_sheets.sources.excel import ExcelSource

    return ExcelSource(Path(location).expanduser(), backup=backup)
