#!/usr/bin/env python3
"""Benchmark rendering the monthly review emails against a bare Jinja2 render loop.

Run by hand from a checkout with the test extras installed:

    python scripts/bench_review.py [--owners 1000] [--repeat 5]

It builds a plan with one milestone due this month, one overdue and one coming up per
owner, evaluates it, then measures in one run (best of --repeat):
  - render: milestone-sheets grouping the rows by person, building each review's
    sections and rendering its text and HTML parts (`render_reviews`);
  - bare: a plain loop rendering the same two templates with the same contexts;
  - messages: for information, the whole `plan_review_mail` (render plus assembling each
    MIME message with the standard library's email package).
Targets: render under 1 s for 1,000 owners, and at most 1.5x the bare loop.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from datetime import date, datetime, timedelta
from pathlib import Path


def build_plan(path: Path, owners: int) -> None:
    import xlsxwriter

    book = xlsxwriter.Workbook(str(path))
    sheet = book.add_worksheet("Milestones")
    sheet.write_row(
        0, 0, ["ID", "Milestone", "Owner", "Email", "Start", "Due", "Budget", "Actual", "Progress"]
    )
    row = 1
    for owner in range(owners):
        for offset, due in enumerate((date(2026, 6, 20), date(2026, 5, 20), date(2026, 7, 10))):
            start = due - timedelta(days=40)
            sheet.write_row(row, 0, [f"M{row}", f"Milestone {row} of owner {owner}", f"Owner {owner}",
                                     f"owner{owner}@example.com"])  # fmt: skip
            sheet.write_datetime(row, 4, datetime(start.year, start.month, start.day))
            sheet.write_datetime(row, 5, datetime(due.year, due.month, due.day))
            sheet.write_row(row, 6, [1000 + offset, 900 + 200 * offset, 0.5])
            row += 1
    book.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--owners", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=5)
    options = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from milestone_sheets.evaluate import Settings
    from milestone_sheets.sync import read_and_evaluate

    from milestone_sheets.config import parse_config
    from milestone_sheets.mail.compose import plan_reviews
    from milestone_sheets.mail.render import Renderer
    from milestone_sheets.mail.run import plan_review_mail, render_reviews
    from milestone_sheets.report import Month
    from milestone_sheets.sources.excel import ExcelSource
    from milestone_sheets.templating import environment

    folder = Path(tempfile.mkdtemp())
    path = folder / "plan.xlsx"
    build_plan(path, options.owners)
    source = ExcelSource(path)
    evaluation = read_and_evaluate(source, Settings(), date(2026, 6, 15))
    config = parse_config({"review": {"from": "Plan Office <plan@example.com>"}}, folder)
    month = Month(2026, 6)

    renderer = Renderer(None, "plan@example.com", None)

    def ours() -> int:
        return len(render_reviews(evaluation, month, renderer, source.link)[0])

    def messages() -> int:
        return len(plan_review_mail(evaluation, month, config, source.link, digest=False).outgoing)

    reviews, _ = plan_reviews(evaluation, month, source.link)
    env = environment(None)
    text_template, html_template = env.get_template("review.txt"), env.get_template("review.html")

    def bare() -> int:
        for review in reviews:
            text_template.render(**review.context)
            html_template.render(**review.context)
        return len(reviews)

    def best(function) -> float:
        times = []
        for _ in range(options.repeat):
            start = time.perf_counter()
            count = function()
            times.append(time.perf_counter() - start)
        assert count == options.owners, count
        return min(times)

    ours_s, bare_s, messages_s = best(ours), best(bare), best(messages)
    print(
        f"Machine: {os.cpu_count()} cores, Python {platform.python_version()}, {platform.machine()}"
    )
    print("| owners | render s | bare Jinja2 loop s | render / bare | with MIME messages s |")
    print("| ---: | ---: | ---: | ---: | ---: |")
    print(
        f"| {options.owners:,} | {ours_s:.3f} | {bare_s:.3f} | {ours_s / bare_s:.2f}x | {messages_s:.3f} |"
    )


if __name__ == "__main__":
    main()
