"""The review-meeting report: one self-contained HTML file (inline CSS and SVG, no script).

`report_context` is pure (an evaluation in, plain data out); `render_report` fills the
Jinja2 template `report.html`.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from milestone_sheets.domain.drift import (
    Seen,
    SinceReview,
    earned_value_curve,
    plan_drift,
    since_review,
    trend,
)
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
    days_text,
    earned_value,
    extra_reasons,
)
from milestone_sheets.domain.values import amount, money_places, round_half_away, to_decimal

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
TICK_LABEL = 56  # pixels a month label ("Sep 2026") takes, with a gap
TIMELINE_WIDTH = 760  # with the names beside it, the width of a landscape A4 page


Money = Callable[[float | None], str]


def money_of(evaluation: Evaluation) -> Money:
    """How the plan's money is shown, everywhere alike: whole units, or cents when any
    budget or actual has them."""
    places = money_places(
        record.values.get(key)
        for record, _ in evaluation.milestones.rows()
        for key in ("budget", "actual")
    )
    return lambda value: amount(value, places)


def _sum(values: Iterable[float]) -> float:
    return round_half_away(sum((to_decimal(v) for v in values), Decimal(0)), 2)


def _plan_vs_actual(rows: list[tuple[Any, Any]], key: str, money: Money) -> list[dict[str, Any]]:
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
        table.append({"name": name, "count": len(values), "budget": money(budget),
                      "actual": money(actual), "variance": money(variance),
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
    # A label is some 50 pixels wide: over a long plan, every second (third...) month.
    step = max(1, math.ceil(TICK_LABEL / (TIMELINE_WIDTH * 30.4 / span)))
    return {"groups": groups, "today": x(as_of), "width": TIMELINE_WIDTH, "ticks": ticks[::step]}


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
        "y_ticks": [
            {"y": xy(start, top * share)[1], "label": amount(top * share)} for share in (0, 0.5, 1)
        ],
        "x_ticks": [
            {"x": 0, "label": start.isoformat(), "anchor": "start"},
            {"x": width, "label": end.isoformat(), "anchor": "end"},
        ],
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


def change_lines(item: SinceReview, money: Money = amount) -> list[str]:
    """What changed for one milestone since the previous review, in words."""
    lines = []
    if item.removed:
        lines.append("removed from the sheet")
    if item.added:
        lines.append(f"new since the last review ({item.milestone.status})")
    if item.done:
        lines.append("done" if item.status and item.status[1] == DONE else "done late")
    elif item.status:
        lines.append(f"status {item.status[0]} to {item.status[1]}")
    if item.due:
        old, new, days = item.due
        later = "later" if days > 0 else "earlier"
        lines.append(f"due moved from {old.isoformat()} to {new.isoformat()} "
                     f"({days_text(days)} {later})")  # fmt: skip
    if item.budget:
        old_budget, new_budget = item.budget
        if old_budget is None:
            lines.append(f"budget set to {money(new_budget)}")
        elif new_budget is None:
            lines.append(f"budget of {money(old_budget)} cleared")
        else:
            verb = "raised" if new_budget > old_budget else "lowered"
            lines.append(f"budget {verb} from {money(old_budget)} to {money(new_budget)}")
    return lines


def since_items(
    evaluation: Evaluation, month: Month, money: Money = amount
) -> list[dict[str, Any]] | None:
    """Each milestone that changed since the previous month's review, as templates show
    it; None when the history does not reach back that far."""
    if evaluation.past is None:
        return None
    since = since_review(evaluation.past, month, evaluation.observed)
    if since is None:
        return None
    return [
        {"id": item.milestone.id, "name": item.milestone.name, "owner": item.milestone.owner,
         "email": item.milestone.email, "changes": change_lines(item, money)}
        for item in since
    ]  # fmt: skip


def drift_context(evaluation: Evaluation, month: Month) -> dict[str, Any] | None:
    """The plan's drift for the digest and the report: milestones slipped since the
    previous review, the days they slipped, the ones slipped three times or more."""
    if evaluation.past is None:
        return None
    drift = plan_drift(evaluation.past, month, evaluation.observed)

    def named(seen: Seen) -> dict[str, str]:
        return {"id": seen.id, "name": seen.name, "owner": seen.owner}

    return {
        "known": drift.known,
        "slipped": [
            {
                **named(item.milestone),
                "from": item.due[0].isoformat(),
                "to": item.due[1].isoformat(),
                "days": item.due[2],
            }
            for item in drift.slipped
            if item.due
        ],  # fmt: skip
        "slipped_days": drift.slipped_days,
        "repeated": [{**named(seen), "times": count} for seen, count in drift.repeated],
        "total_slip": drift.total_slip,
    }


TREND_WIDTH, TREND_HEIGHT = 560, 300


def _trend_chart(evaluation: Evaluation) -> dict[str, Any] | None:
    """Milestone trend analysis: review dates across, due dates up, one line per
    milestone, and the diagonal where a milestone's due date is its review date."""
    past = evaluation.past
    if past is None or not past.snapshots:
        return None
    found = trend(past, evaluation.as_of, evaluation.observed)
    dues = [d for _, line in found.lines for d in line if d is not None]
    if len(found.reviews) < 2 or not dues:
        return None
    first, last = found.reviews[0], found.reviews[-1]
    low, high = min(min(dues), first), max(max(dues), last)
    x_span, y_span = max((last - first).days, 1), max((high - low).days, 1)

    def x(day: date) -> float:
        return round((day - first).days / x_span * TREND_WIDTH, 1)

    def y(day: date) -> float:
        return round(TREND_HEIGHT - (day - low).days / y_span * TREND_HEIGHT, 1)

    palette = ("#1565c0", "#c62828", "#2e7d32", "#e65100", "#6a1b9a", "#00838f", "#9e7c00",
               "#ad1457", "#37474f", "#5d4037", "#558b2f", "#283593")  # fmt: skip
    lines: list[dict[str, Any]] = []
    for index, (seen, line) in enumerate(found.lines):
        points = [(x(review), y(due)) for review, due in zip(found.reviews, line, strict=True)
                  if due is not None]  # fmt: skip
        lines.append({"label": seen.label, "color": palette[index % len(palette)],
                      "points": " ".join(f"{px},{py}" for px, py in points),
                      "dots": points, "moved": len({d for d in line if d is not None}) > 1})  # fmt: skip
    # Labels at the lines' ends, nudged apart so that none covers another.
    placed = -100.0
    for drawn in sorted(lines, key=lambda item: item["dots"][-1][1] if item["dots"] else 0):
        wanted = drawn["dots"][-1][1] + 4 if drawn["dots"] else 0
        placed = max(wanted, placed + 13)
        drawn["label_y"] = round(placed, 1)
    # The diagonal, due date = review date, clipped to the chart.
    start, end = max(first, low), min(last, high)
    diagonal = (x(start), y(start), x(end), y(end)) if start < end else None
    y_ticks = []
    month = Month.of(low)
    while month.first <= high:
        if month.first >= low:
            y_ticks.append({"y": y(month.first), "label": month.first.strftime("%b %Y")})
        month = month.next()
    return {
        "width": TREND_WIDTH, "height": TREND_HEIGHT, "lines": lines, "diagonal": diagonal,
        "x_ticks": [{"x": x(day), "label": day.isoformat()} for day in found.reviews],
        "y_ticks": y_ticks[:: max(1, len(y_ticks) // 8)],
    }  # fmt: skip


EV_HEIGHT = 200


def _ev_chart(evaluation: Evaluation, money: Money) -> dict[str, Any] | None:
    """PV, EV and AC at each month end the history covers, and now."""
    past = evaluation.past
    if past is None or not past.snapshots:
        return None
    curve = earned_value_curve(past, evaluation.as_of, evaluation.observed)
    if len(curve) < 2:
        return None
    top = max(max(f.pv, f.ev, f.ac) for _, f in curve) or 1
    step = TREND_WIDTH / (len(curve) - 1)

    def series(name: str) -> str:
        return " ".join(
            f"{round(i * step, 1)},{round(EV_HEIGHT - getattr(f, name) / top * EV_HEIGHT, 1)}"
            for i, (_, f) in enumerate(curve)
        )

    return {
        "width": TREND_WIDTH, "height": EV_HEIGHT,
        "series": [{"name": "PV", "color": "#757575", "points": series("pv")},
                   {"name": "EV", "color": "#2e7d32", "points": series("ev")},
                   {"name": "AC", "color": "#c62828", "points": series("ac")}],
        "x_ticks": [{"x": round(i * step, 1), "label": day.isoformat()}
                    for i, (day, _) in enumerate(curve)],
        "y_ticks": [{"y": round(EV_HEIGHT - share * EV_HEIGHT, 1), "label": money(top * share)}
                    for share in (0, 0.5, 1)],
        "rows": [{"day": day.isoformat(), "pv": money(f.pv), "ev": money(f.ev),
                  "ac": money(f.ac)} for day, f in curve],
    }  # fmt: skip


def report_context(
    evaluation: Evaluation, month: Month, title: str, *, charts: bool = True
) -> dict[str, Any]:
    """Everything the report template shows, as plain data; without `charts` (for the
    digest), no timeline, trend or earned value chart."""
    as_of = evaluation.as_of
    money = money_of(evaluation)
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
            "budget": money(values.get("budget")), "actual": money(values.get("actual")),
            "variance": money(computed.budget_variance), "check": computed.check or "",
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
        "PV": money(figures.pv), "EV": money(figures.ev), "AC": money(figures.ac),
        "SV": money(figures.sv), "CV": money(figures.cv),
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
        "by_category": _plan_vs_actual(valid, "category", money),
        "by_owner": _plan_vs_actual(valid, "owner", money),
        "ev": [{"name": k, "value": v, "explanation": EV_EXPLANATIONS[k]} for k, v in ev.items()],
        "attention": attention,
        "over_budget": [item(r, c) for r, c in over_budget],
        "due_this_month": due_this_month,
        "invalid": [item(r, c) for r, c in rows if c.status == INVALID],
        "goals": goals,
        "goal_statuses": GOAL_STATUSES,
        "drift": drift_context(evaluation, month),
        **({"timeline": _timeline(rows, as_of), "trend": _trend_chart(evaluation),
            "ev_chart": _ev_chart(evaluation, money)} if charts else {}),
    }  # fmt: skip


def render_report(evaluation: Evaluation, month: Month, title: str, templates: Any = None) -> str:
    """The report as one HTML document."""
    from milestone_sheets.templating import environment  # Jinja2 only when a report is made

    template = environment(templates).get_template("report.html")
    return template.render(**report_context(evaluation, month, title))
