"""The review-meeting report: one self-contained HTML file (see `html`)."""

from milestone_sheets.report.html import (
    STATUS_COLORS,
    amount,
    goal_items,
    render_report,
    report_context,
    since_items,
)

__all__ = [
    "STATUS_COLORS",
    "amount",
    "goal_items",
    "render_report",
    "report_context",
    "since_items",
]
