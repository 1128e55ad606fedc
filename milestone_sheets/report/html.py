"""The review-meeting report: one self-contained HTML file (inline CSS and SVG, no script).

`report_context` is pure (an evaluation in, plain data out); `render_report` fills the
Jinja2 template `report.html`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from milestone_sheets.domain.evaluate import Evaluation, summarize
from milestone_sheets.domain.goals import BEHIND, GOAL_STATUSES, MET, MISSED
from milestone_sheets.domain.months import Month
from milestone_sheets.domain.status import (
    AT_RISK,
    DONE,
    DONE_LATE,
    INVALID,
    NOT_STARTED,
    ON_TRACK,
    OVERDUE,
    STATUSES,
    earned_value,
    extra_reasons,
)
from milestone_sheets.domain.values import amount, round_half_away, to_decimal

STATUS_COLORS = {
    DONE: "#2e7d32",
    DONE_LATE: "#9e7c00",
    ON_TRACK: "#1565c0",
    AT_RISK: "#e65100",
    OVERDUE: "#c62828",
    NOT_STARTED: "#757575",
    INVALID: "#6a1b9a",
    MET: "#2e7d32",
    BEHIND: "#e65100",
    MISSED: "#c62828",
}
EV_EXPLANATIONS = {
    "PV": "Planned value: the budget of the work that should be done by now (budget x expected progress).",
    "EV": "Earned value: the budget of the work actually done (budget x progress).",
    "AC": "Actual cost: what has been spent so far.",
    "SV": "Schedule variance, EV - PV: below 0 means behind schedule.",
    "CV": "Cost variance, EV - AC: below 0 means over budget for the work done.",
    "SPI": "Schedule performance index, EV / PV: below 1 means behind schedule.",
    "CPI": "Cost performance index, EV / AC: below 1 means each unit spent earns less than planned.",
}
TIMELINE_ROW = 16
TIMELINE_WIDTH = 700


def _sum(values: Iterable[float]) -> float:
    return round_half_away(sum((to_decimal(v) for v in values), Decimal(0)), 2)


def _plan_vs_actual(rows: list[tuple[Any, Any]], key: str) -> list[dict[str, Any]]:
    groups: dict[str, list[Any]] = defaultdict(list)
    for record, _ in rows:
        groups[record.values.get(key) or "(none)"].append(record.values)
    table = []
    for name in sorted(groups, key=str.lower):
        values = groups[name]
        budget = _sum(v["budget"] for v in values if v.get("budget") is not None)
        actual = _sum(v["actual"] for v in values if v.get("actual") is not None)
        both = [v for v in values if v.get("budget") is not None and v.get("actual") is not None]
        variance = _sum(v["actual"] - v["budget"] for v in both) if both else None
        table.append({"name": name, "count": len(values), "budget": amount(budget),
                      "actual": amount(actual), "variance": amount(variance),
                      "over": variance is not None and variance > 0})  # fmt: skip
    return table


def _timeline(rows: list[tuple[Any, Any]], as_of: date) -> dict[str, Any]:
    """Bars from start (or due, when there is no start) to due, grouped by category."""
    dated = [(r, c) for r, c in rows if c.status != INVALID and r.values.get("due")]
    if not dated:
        return {"groups": [], "height": 0}
    starts = [r.values.get("start") or r.values["due"] for r, _ in dated]
    low = min(min(starts), as_of) - timedelta(days=3)
    high = max(max(r.values["due"] for r, _ in dated), as_of) + timedelta(days=3)
    span = max((high - low).days, 1)

    def x(day: date) -> float:
        return round((day - low).days / span * TIMELINE_WIDTH, 1)

    by_category: dict[str, list[tuple[Any, Any]]] = defaultdict(list)
    for record, computed in dated:
        by_category[record.values.get("category") or "(no category)"].append((record, computed))
    groups = []
    for name in sorted(by_category, key=str.lower):
        bars = []
        for index, (record, computed) in enumerate(
            sorted(
                by_category[name], key=lambda rc: rc[0].values.get("start") or rc[0].values["due"]
            )
        ):
            start = record.values.get("start") or record.values["due"]
            left, right = x(start), x(record.values["due"])
            bars.append({
                "y": index * TIMELINE_ROW, "x": left, "width": max(right - left, 3),
                "color": STATUS_COLORS[computed.status], "status": computed.status,
                "label": f"{record.values.get('id') or ''} {record.values.get('name')}".strip(),
                "owner": record.values.get("owner") or "",
                "due": record.values["due"].isoformat(),
            })  # fmt: skip
        groups.append({"name": name, "bars": bars, "height": len(bars) * TIMELINE_ROW + 4})
    ticks = []
    day = date(low.year, low.month, 1)
    while day <= high:
        if day >= low:
            ticks.append({"x": x(day), "label": day.strftime("%b %Y")})
        day = Month.of(day).next().first
    return {"groups": groups, "today": x(as_of), "width": TIMELINE_WIDTH, "ticks": ticks}


def _goal_chart(result: Any, values: Mapping[str, Any], as_of: date) -> dict[str, Any] | None:
    """Expected value at each checkpoint (a step line) and the actual so far (a dot)."""
    points = result.checkpoints
    start, target = values.get("start"), values.get("target")
    if not points or start is None or not target:
        return None
    width, height = 420, 120
    end = points[-1].day
    span = max((end - start).days, 1)
    top = max(target, values.get("actual") or 0) or 1

    def xy(day: date, value: float) -> tuple[float, float]:
        return (
            round((day - start).days / span * width, 1),
            round(height - value / top * height, 1),
        )

    path = [xy(start, 0)]
    previous = 0.0
    for point in points:
        path.append(xy(point.day, previous))
        path.append(xy(point.day, point.expected))
        previous = point.expected
    actual = values.get("actual")
    today = min(max(as_of, start), end)
    return {
        "width": width,
        "height": height,
        "path": " ".join(f"{px},{py}" for px, py in path),
        "actual": xy(today, actual) if actual is not None else None,
        "today": xy(today, 0)[0],
        # A past checkpoint is met when the actual (as given now) is at least what it
        # expected, else missed; a future one is neither yet.
        "points": [
            {
                "day": p.day.isoformat(),
                "expected": amount(p.expected),
                "state": ""
                if p.day > as_of
                else "met"
                if (actual or 0) >= p.expected
                else "missed",
            }
            for p in points
        ],  # fmt: skip
    }


def goal_items(evaluation: Evaluation) -> list[dict[str, Any]]:
    """Every goal as the templates show it, with its checkpoint chart."""
    goals: list[dict[str, Any]] = []
    if evaluation.goals is None:
        return goals
    for record, result in evaluation.goals.rows():
        goals.append({
            "id": record.values.get("id") or "", "name": record.values.get("name") or "",
            "owner": record.values.get("owner") or "", "status": result.status,
            "color": STATUS_COLORS.get(result.status, "#555"), "milestones": result.milestones or "",
            "target": amount(record.values.get("target")), "actual": amount(record.values.get("actual")),
            "expected": amount(result.expected_to_date), "gap": amount(result.gap),
            "next": result.next_checkpoint.isoformat() if result.next_checkpoint else "",
            "metric": record.values.get("metric") or "", "check": result.check or "",
            "chart": _goal_chart(result, record.values, evaluation.as_of),
        })  # fmt: skip
    return goals


def report_context(evaluation: Evaluation, month: Month, title: str) -> dict[str, Any]:
    """Everything the report template shows, as plain data."""
    as_of = evaluation.as_of
    table = evaluation.milestones
    rows = evaluation.milestones.rows()
    counts = summarize(rows)
    valid = [(r, c) for r, c in rows if c.status != INVALID]
    over_budget = [
        (r, c) for r, c in valid
        if r.values.get("budget") is not None and r.values.get("actual") is not None
        and r.values["actual"] > r.values["budget"]
    ]  # fmt: skip
    figures = earned_value(
        (r.values.get("budget"), r.values.get("actual"), c.progress, c.expected)
        for r, c in evaluation.milestones.rows()
        if not r.problems
    )

    def item(record: Any, computed: Any) -> dict[str, Any]:
        values = record.values
        return {
            "id": values.get("id") or "", "name": values.get("name") or "", "owner": values.get("owner") or "",
            "due": values["due"].isoformat() if values.get("due") else "", "status": computed.status,
            "color": STATUS_COLORS.get(computed.status, "#555"), "days_late": computed.days_late,
            "budget": amount(values.get("budget")), "actual": amount(values.get("actual")),
            "variance": amount(computed.budget_variance), "check": computed.check or "",
            "reason": extra_reasons(computed), "row": record.row,
            "cell": record.cell_of(table.header, record.problems[0], table.sheet)
            if record.problems else f"{table.sheet}!A{record.row}",
        }  # fmt: skip

    attention = sorted(
        (item(r, c) for r, c in valid if c.status in (OVERDUE, AT_RISK)),
        key=lambda i: (i["status"] != OVERDUE, -(i["days_late"] or 0), i["due"]),
    )
    goals = goal_items(evaluation)
    due_this_month = [item(r, c) for r, c in valid if month.first <= r.values["due"] <= month.last]
    ev = {
        "PV": amount(figures.pv), "EV": amount(figures.ev), "AC": amount(figures.ac),
        "SV": amount(figures.sv), "CV": amount(figures.cv),
        "SPI": "" if figures.spi is None else f"{figures.spi:.2f}",
        "CPI": "" if figures.cpi is None else f"{figures.cpi:.2f}",
    }  # fmt: skip
    return {
        "title": title,
        "as_of": as_of.isoformat(),
        "month": str(month),
        "total": len(rows),
        "counts": [
            {"status": s, "count": counts[s], "color": STATUS_COLORS[s]}
            for s in STATUSES
            if s in counts
        ],
        "glance": {
            "overdue": counts.get(OVERDUE, 0),
            "at_risk": counts.get(AT_RISK, 0),
            "over_budget": len(over_budget),
            "goals_behind": sum(1 for goal in goals if goal["status"] in (BEHIND, MISSED, AT_RISK)),
            "invalid": counts.get(INVALID, 0),
        },
        "by_category": _plan_vs_actual(valid, "category"),
        "by_owner": _plan_vs_actual(valid, "owner"),
        "ev": [{"name": k, "value": v, "explanation": EV_EXPLANATIONS[k]} for k, v in ev.items()],
        "attention": attention,
        "over_budget": [item(r, c) for r, c in over_budget],
        "due_this_month": due_this_month,
        "invalid": [item(r, c) for r, c in rows if c.status == INVALID],
        "timeline": _timeline(rows, as_of),
        "goals": goals,
        "goal_statuses": GOAL_STATUSES,
    }


def render_report(evaluation: Evaluation, month: Month, title: str, templates: Any = None) -> str:
    """The report as one HTML document."""
    from milestone_sheets.templating import environment  # Jinja2 only when a report is made

    template = environment(templates).get_template("report.html")
    return template.render(**report_context(evaluation, month, title))
