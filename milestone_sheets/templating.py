"""Jinja2 environment: the bundled templates, overridable by name from a user folder."""

from __future__ import annotations

import functools
from importlib import metadata
from pathlib import Path

import jinja2

from milestone_sheets.errors import ConfigError


@functools.cache
def bundled_templates() -> Path:
    """The folder of bundled templates.

    A checkout (and an editable install) reads the repository's top-level templates/; an
    installed wheel carries them as data files (share/milestone-sheets/templates under
    the environment's prefix), found through the installation's own file list.
    """
    checkout = Path(__file__).resolve().parent.parent / "templates"
    if (checkout / "report.html").is_file():
        return checkout
    try:
        files = metadata.files("milestone-sheets") or []
    except metadata.PackageNotFoundError:
        files = []
    for file in files:
        if file.name == "report.html" and file.parent.name == "templates":
            return Path(str(file.locate())).resolve().parent
    raise FileNotFoundError("the bundled templates are missing from this installation")


@functools.lru_cache(maxsize=8)
def environment(user_folder: Path | None = None) -> jinja2.Environment:
    """StrictUndefined, so a misspelt variable fails loudly with the template's name;
    autoescape for .html, so text from a sheet shows as text."""
    folders = [str(bundled_templates())]
    if user_folder is not None:
        if not user_folder.is_dir():
            raise ConfigError(f"review.templates: {user_folder} is not a folder")
        folders.insert(0, str(user_folder))
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(folders),
        undefined=jinja2.StrictUndefined,
        autoescape=jinja2.select_autoescape(["html"], default_for_string=False),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
