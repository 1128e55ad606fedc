"""The review-meeting report: its figures, its escaping, and a real browser rendering it."""

from __future__ import annotations

import html
import itertools
import re
import subprocess
from datetime import date, timedelta
from pathlib import Path

from conftest import chromium, needs_chromium
from workbooks import write_xlsx

from milestone_sheets.cli import main


def crafted(tmp_path: Path, extra_rows: int = 0) -> Path:
    milestones = [
        ["ID", "Milestone", "Owner", "Category", "Goal", "Start", "Due", "Completed", "Budget", "Actual", "Progress"],
        ["M1", "Website", "Ana", "Marketing & Sales", "G1", date(2026, 5, 1), date(2026, 5, 31), date(2026, 5, 30), 1000, 1200, 1],
        ["M2", "Seed round", "Ben", "Other", "G1", date(2026, 5, 1), date(2026, 6, 10), None, 10000, 4000, 0.5],
        ["M3", "<script>alert(1)</script>", "Cleo", "Product", None, date(2026, 6, 1), date(2026, 6, 29), None, 2000, 500, 0.1],
        ["M4", "Launch", "Dev", "Product", None, date(2026, 6, 1), date(2026, 7, 31), None, 4000, 1000, 0.3],
        ["M5", "Broken", "Ana", "Other", None, None, "soon", None, None, None, None],
    ]  # fmt: skip
    for i in range(extra_rows):
        start = date(2026, 1, 1) + timedelta(days=i % 300)
        milestones.append([f"X{i}", f"Extra {i}", f"Owner {i % 40}", ("Product", "Other")[i % 2], None,
                           start, start + timedelta(days=30), None, 100, 50, 0.5])  # fmt: skip
    goals = [
        ["ID", "Goal", "Owner", "Start", "Due", "Metric", "Target", "Actual"],
        ["G1", "Revenue", "Ana", date(2026, 6, 1), date(2026, 6, 29), "MRR", 100000, 40000],
    ]
    return write_xlsx(tmp_path / "plan.xlsx", {"Milestones": milestones, "Goals": goals})


def make_report(runner, tmp_path, extra_rows=0) -> str:
    path = crafted(tmp_path, extra_rows)
    out = tmp_path / "report.html"
    result = runner.invoke(main, ["report", str(path), "--as-of", "2026-06-15", "-o", str(out)])
    assert result.exit_code == 1, result.output  # M5 is a data problem
    assert f"Wrote {out}" in result.output
    return out.read_text()


def text_of(page: str) -> str:
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", page)))


def test_report_key_figures(runner, tmp_path):
    page = make_report(runner, tmp_path)
    text = text_of(page)
    assert "Plan review for June 2026, as of 2026-06-15: 5 milestones." in text
    # At a glance: M2 overdue; M3 at risk (10% vs 50% expected); M1 over budget; G1 behind.
    assert re.search(r"1 overdue 1 at risk 1 over budget 1 goals behind 1 rows to fix", text)
    # Earned value: PV = 1000x1 + 10000x1 + 2000x0.5 + 4000x(14/60); EV = 1000 + 5000 + 200 + 1200.
    # Money has one precision throughout: whole units, as every budget and actual is whole.
    assert "PV 12,933 " in text and "EV 7,400" in text and "AC 6,700" in text
    assert "SPI 0.57" in text and "CPI 1.10" in text
    assert "By category" in text and "Marketing & Sales 1 1,000 1,200 200" in text
    assert "Seed round due 2026-06-10, 5 days late Ben 2026-06-10 Overdue 5" in text
    assert "G1 Revenue Behind" in text and "expected by now 50,000; gap -10,000" in text
    assert "Rows to fix" in text and "Due 'soon' is not a date" in text
    assert "<svg" in page and "<script" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "http://" not in page and "https://" not in page  # self-contained


def test_report_stays_readable_for_500_milestones(runner, tmp_path):
    page = make_report(runner, tmp_path, extra_rows=500)
    assert page.count('class="scroll"') >= 4
    assert len(page) < 2_000_000


@needs_chromium
def test_report_renders_in_headless_chromium(runner, tmp_path):
    make_report(runner, tmp_path)
    page = (tmp_path / "report.html").as_uri()
    flags = chromium(tmp_path / "chromium-profile", 1280, 2400)
    shot = tmp_path / "report.png"
    done = subprocess.run([*flags, f"--screenshot={shot}", page], capture_output=True, timeout=120)
    assert shot.exists(), done.stderr.decode(errors="replace")[-2000:]
    png = shot.read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 30_000  # a page with content, not blank
    dom = subprocess.run([*flags, "--dump-dom", page], capture_output=True, timeout=120, text=True)
    text = text_of(dom.stdout)
    assert "1 overdue 1 at risk 1 over budget 1 goals behind" in text
    assert "PV 12,933 " in text


def test_a_past_checkpoint_is_met_or_missed_never_a_check_mark(tmp_path):
    from datetime import date

    from milestone_sheets import app
    from milestone_sheets.report import goal_items

    demo = app.demo(tmp_path / "demo", date(2026, 6, 15))
    charts = [g["chart"] for g in goal_items(demo.outcome.evaluation) if g["chart"]]
    states = {p["state"] for chart in charts for p in chart["points"]}
    assert states <= {"met", "missed", ""} and "missed" in states
    for chart in charts:
        for point in chart["points"]:
            assert (point["state"] == "") == (point["day"] > "2026-06-15")
    assert "&#10003;" not in demo.report.read_text()


def pdf_pages(path: Path) -> int:
    data = path.read_bytes()
    assert data.startswith(b"%PDF")
    return len(re.findall(rb"/Type\s*/Page[^s]", data))


@needs_chromium
def test_the_printed_report_shows_every_milestone(runner, tmp_path):
    """On paper the timeline and the tables are not scrolling boxes: 500 milestones take
    many pages, where a box would hold the first few dozen."""
    make_report(runner, tmp_path, extra_rows=500)
    path = tmp_path / "plan.xlsx"
    out = tmp_path / "board.html"
    done = runner.invoke(
        main, ["report", str(path), "--as-of", "2026-06-15", "-o", str(out), "--pdf"]
    )
    assert done.exit_code == 1, done.output
    pdf = tmp_path / "board.pdf"
    assert f"Wrote {pdf}" in done.output
    assert pdf.stat().st_mode & 0o777 == 0o600
    # About 36 pixels a timeline row on a landscape A4 page of some 700 pixels: 500 rows
    # alone need more than 20 pages.
    assert pdf_pages(pdf) > 20


def test_money_has_one_precision_throughout(runner, tmp_path):
    path = crafted(tmp_path)
    book = __import__("openpyxl").load_workbook(path)
    book["Milestones"]["J2"] = 1200.5  # one actual with cents
    book.save(path)
    out = tmp_path / "report.html"
    runner.invoke(main, ["report", str(path), "--as-of", "2026-06-15", "-o", str(out)])
    text = text_of(out.read_text())
    assert "PV 12,933.33" in text and "EV 7,400.00" in text and "AC 6,700.50" in text
    assert not re.search(
        r"\b\d{1,3},\d{3}(?![.,\d])", text.split("Earned value", 1)[1].split("Due in")[0]
    )


def test_without_a_browser_the_pdf_is_refused_with_the_fix(runner, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "nothing-here"))
    path = crafted(tmp_path)
    done = runner.invoke(main, ["report", str(path), "--as-of", "2026-06-15", "-o",
                                str(tmp_path / "r.html"), "--pdf"])  # fmt: skip
    assert done.exit_code == 2 and "apt-get install chromium" in done.output
    assert (tmp_path / "r.html").exists() and not (tmp_path / "r.pdf").exists()


def test_month_labels_never_overlap_on_a_long_plan(runner, tmp_path):
    rows = [["ID", "Milestone", "Owner", "Start", "Due"]] + [
        [
            f"M{i}",
            f"Step {i}",
            "Ana",
            date(2025, 1, 1) + timedelta(days=30 * i),
            date(2025, 2, 1) + timedelta(days=30 * i),
        ]
        for i in range(40)
    ]  # fmt: skip  (three years and more)
    path = write_xlsx(tmp_path / "long.xlsx", {"Milestones": rows})
    out = tmp_path / "long.html"
    runner.invoke(main, ["report", str(path), "--as-of", "2026-06-15", "-o", str(out)])
    timeline = out.read_text().split("<h2>Timeline</h2>", 1)[1].split("</svg>", 1)[0]
    xs = [float(x) for x in re.findall(r'<line x1="([\d.]+)" y1="12"', timeline)]
    assert len(xs) >= 6
    assert all(b - a >= 56 for a, b in itertools.pairwise(xs)), xs


def test_the_goal_chart_has_axis_values(runner, tmp_path):
    page = make_report(runner, tmp_path)
    chart = page.split('aria-label="Expected vs actual for Revenue"', 1)[1].split("</svg>", 1)[0]
    labels = re.findall(r"<text[^>]*>([^<]+)</text>", chart)
    # Up: 0, half the target and the target; across: the goal's start and last checkpoint.
    assert labels[:3] == ["0", "50,000", "100,000"]
    assert labels[3:] == ["2026-06-01", "2026-06-29"]
