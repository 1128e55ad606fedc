"""The report as a PDF, for the board pack: the HTML report printed by headless Chromium
(its print layout shows every row: no scrolling box, A4 landscape)."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from milestone_sheets.errors import ConfigError, SourceError
from milestone_sheets.files import write_atomically

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
TIMEOUT = 120  # seconds: a report of thousands of rows prints in a few


def find_browser() -> str | None:
    """The first Chromium or Chrome on the PATH."""
    return next((found for name in BROWSERS if (found := shutil.which(name))), None)


def print_pdf(html: Path, pdf: Path) -> Path:
    """Print the HTML file to `pdf` (written atomically, private to the user)."""
    browser = find_browser()
    if browser is None:
        raise ConfigError(
            f"report --pdf needs Chromium or Google Chrome on the PATH (Debian: apt-get install "
            f"chromium); the HTML report is {html}"
        )
    with tempfile.TemporaryDirectory(prefix="milestone-sheets-pdf-") as work:
        printed = Path(work) / "report.pdf"
        command = [
            browser, "--headless", "--disable-gpu", "--no-first-run", "--disable-sync",
            "--disable-background-networking", "--disable-component-update",
            "--no-pdf-header-footer", "--print-to-pdf-no-header",
            f"--user-data-dir={Path(work) / 'profile'}", f"--print-to-pdf={printed}",
            html.resolve().as_uri(),
        ]  # fmt: skip
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            command.insert(2, "--no-sandbox")  # Chromium refuses its sandbox to root
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT)
        except (OSError, subprocess.TimeoutExpired) as err:
            raise SourceError(f"{browser} could not print {html}: {err}") from None
        data = printed.read_bytes() if printed.exists() else b""
        if not data.startswith(b"%PDF"):
            detail = (done.stderr.strip().splitlines() or ["no output"])[-1]
            raise SourceError(f"{browser} did not print {html} (exit {done.returncode}: {detail})")
    write_atomically(pdf, data)
    return pdf
