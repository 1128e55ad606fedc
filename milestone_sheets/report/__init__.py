"""The review-meeting report: one self-contained HTML file (see `html`)."""

from milestone_sheets.report.html import (
    STATUS_COLORS,
    Money,
    amount,
    goal_items,
    money_of,
    render_report,
    report_context,
    since_items,
)

__all__ = [
    "STATUS_COLORS",
    "Money",
    "amount",
    "goal_items",
    "money_of",
    "render_report",
    "report_context",
    "since_items",
]
