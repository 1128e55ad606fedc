"""The emails as a phone and a desktop show them: headless Chromium at 375 and 1,200
pixels, the demo plan's review for an owner and the manager's digest."""

from __future__ import annotations

import re
import subprocess
from datetime import date

import pytest
from conftest import chromium, needs_chromium

from milestone_sheets import app
from milestone_sheets.domain.months import Month

AS_OF = date(2026, 6, 15)
# Chromium's window is at least 500 pixels wide: a narrower screen is an iframe of that
# width, and its document is measured once it has loaded.
FRAME = """<!DOCTYPE html><html><head><meta charset="utf-8"></head><body style="margin:0">
<iframe id="mail" width="{width}" height="900" style="border:0" srcdoc="{html}"
 onload="var d = this.contentDocument; document.title = 'W=' + d.documentElement.scrollWidth
 + ' widest=' + Math.max(...[...d.querySelectorAll('body *')].map(e => e.getBoundingClientRect().right))">
</iframe></body></html>"""


def framed(html: str, width: int) -> str:
    escaped = html.replace("&", "&amp;").replace('"', "&quot;")
    return FRAME.format(width=width, html=escaped)


@pytest.fixture(scope="module")
def emails(tmp_path_factory) -> dict[str, str]:
    """The HTML of one owner's review (the one with the most in it) and of the digest."""
    folder = tmp_path_factory.mktemp("demo")
    demo = app.demo(folder, AS_OF)
    config = app.load_config(demo.config_path)
    source = app.open_source(demo.workbook, config)
    plan = app.plan_review(demo.outcome, source, Month.of(AS_OF), config)
    html = {
        item.recipient: item.message.get_body(("html",)).get_content() for item in plan.outgoing
    }
    digest = next(i for i in plan.outgoing if i.kind == "digest")
    richest = max(
        (i for i in plan.outgoing if i.kind == "review"), key=lambda i: len(html[i.recipient])
    )
    return {"review": html[richest.recipient], "digest": html[digest.recipient]}


@needs_chromium
@pytest.mark.parametrize("kind", ["review", "digest"])
@pytest.mark.parametrize("width", [375, 1200])
def test_nothing_overflows_the_window(emails, tmp_path, kind, width):
    page = tmp_path / f"{kind}.html"
    page.write_text(framed(emails[kind], width), encoding="utf-8")
    done = subprocess.run([*chromium(tmp_path / "profile", max(width, 500), 900), "--dump-dom",
                           page.as_uri()],
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    found = re.search(r"<title>W=(\d+) widest=([\d.]+)</title>", done.stdout)
    assert found, done.stderr[-2000:]
    scroll, widest = int(found.group(1)), float(found.group(2))
    assert scroll <= width and widest <= width, f"{kind} at {width}px is {scroll}px wide"


def test_the_review_shows_only_what_is_there(emails):
    html = emails["review"]
    assert "Budget -, actual -" not in html  # an empty figure is left out, not shown as "-"
    assert re.search(r"target [\d,.]+, result", html)
    assert 'white-space:nowrap">2026-' in html  # dates do not wrap


def test_an_owner_sees_the_goals_they_own(tmp_path):
    demo = app.demo(tmp_path / "demo", AS_OF)
    config = app.load_config(demo.config_path)
    plan = app.plan_review(demo.outcome, app.open_source(demo.workbook, config), Month.of(AS_OF),
                           config)  # fmt: skip
    goals = demo.outcome.table("goals")
    assert goals is not None
    owners = {r.values.get("owner") for r in goals.records if not r.skipped}
    seen = 0
    for item in plan.outgoing:
        if item.kind != "review":
            continue
        name = item.message["To"].addresses[0].display_name
        text = item.message.get_body(("plain",)).get_content()
        assert ("YOUR GOALS" in text) == (name in owners), name
        seen += "YOUR GOALS" in text
    assert seen
