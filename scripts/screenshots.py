#!/usr/bin/env python3
"""The README's pictures: the demo plan's report, an owner's review email and the
manager's digest, as headless Chromium shows them (emails at 375 and 1,200 pixels).

Run by hand from a checkout after changing a template, and commit the images:

    python scripts/screenshots.py [--out docs/images] [--as-of 2026-06-15]

Chromium's window is at least 500 pixels wide, so the phone width is an iframe of 375
pixels in a 500-pixel window (the right-hand margin is cut off the picture's width only
where the window allows; the email itself is 375 pixels wide).
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from datetime import date
from pathlib import Path

FRAME = """<!DOCTYPE html><html><head><meta charset="utf-8"></head>
<body style="margin:0;background:#f0f0f0"><iframe width="{width}" height="{height}"
style="border:0;background:#fff;display:block" srcdoc="{html}"
onload="document.title = 'H=' + this.contentDocument.documentElement.scrollHeight"></iframe>
</body></html>"""


def browser() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        sys.exit("Chromium is not installed: apt-get install chromium")
    return found


def run(page: Path, width: int, height: int, profile: Path, *extra: str) -> str:
    done = subprocess.run(
        [browser(), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
         "--no-first-run", "--disable-background-networking", "--disable-component-update",
         f"--user-data-dir={profile}", f"--window-size={width},{height}", *extra, page.as_uri()],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    return done.stdout


def shoot(html: str, width: int, out: Path, work: Path, max_height: int = 2400) -> None:
    """A picture of an HTML page at a width, as tall as the page (up to max_height)."""
    escaped = html.replace("&", "&amp;").replace('"', "&quot;")
    page = work / f"{out.stem}.html"
    page.write_text(FRAME.format(width=width, height=100, html=escaped), encoding="utf-8")
    found = re.search(
        r"<title>H=(\d+)</title>", run(page, max(width, 500), 900, work / "p", "--dump-dom")
    )
    height = min(int(found.group(1)) if found else max_height, max_height)
    page.write_text(FRAME.format(width=width, height=height, html=escaped), encoding="utf-8")
    run(page, width if width >= 500 else 500, height, work / "p", f"--screenshot={out}")
    print(f"{out} ({width} x {height})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=Path("docs/images"))
    parser.add_argument("--as-of", default="2026-06-15")
    options = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from milestone_sheets import app
    from milestone_sheets.domain.months import Month

    as_of = date.fromisoformat(options.as_of)
    options.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        demo = app.demo(work / "demo", as_of)
        config = app.load_config(demo.config_path)
        source = app.open_source(demo.workbook, config)
        plan = app.plan_review(demo.outcome, source, Month.of(as_of), config)
        html = {i.recipient: i.message.get_body(("html",)).get_content() for i in plan.outgoing}
        reviews = [i for i in plan.outgoing if i.kind == "review"]
        review = max(reviews, key=lambda i: len(html[i.recipient]))
        digest = next(i for i in plan.outgoing if i.kind == "digest")
        for width in (375, 1200):
            shoot(html[review.recipient], width, options.out / f"review-{width}.png", work)
            shoot(html[digest.recipient], width, options.out / f"digest-{width}.png", work)
        shoot(demo.report.read_text(encoding="utf-8"), 1200, options.out / "report.png", work, 2000)


if __name__ == "__main__":
    main()
