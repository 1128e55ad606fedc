"""Who gets which review, and what is in it: the spec's email sections. Pure, no I/O."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from milestone_sheets.domain.evaluate import Evaluation
from milestone_sheets.domain.months import Month
from milestone_sheets.domain.rows import Header, Record
from milestone_sheets.domain.status import (
    AT_RISK,
    DONE_LATE,
    FINISHED,
    INVALID,
    OVERDUE,
    extra_reasons,
)
from milestone_sheets.domain.values import folded
from milestone_sheets.report import (
    STATUS_COLORS,
    Money,
    amount,
    goal_items,
    money_of,
    report_context,
    since_items,
)

REVIEW_QUESTIONS = (
    "Are you on budget?",
    "Are you on time?",
    "Do you need any corrections?",
    "Did we achieve the desired results?",
    "What were the specific metrics?",
)
ALERT_STATUSES = (OVERDUE, AT_RISK, DONE_LATE)

# A link to a row: (sheet, 0-based row, 0-based col) -> URL.
LinkOf = Callable[[str, int, int], str]


def _percent(value: float | None) -> str:
    return "" if value is None else f"{value:g}%"


def milestone_line(
    record: Record,
    computed: Any,
    sheet: str,
    link_of: LinkOf,
    header: Header | None = None,
    money: Money = amount,
) -> dict[str, Any]:
    """Everything a template may show about one milestone, as display strings; `cell` is
    the cell of its first problem (with the header), else the row's first cell."""
    values = record.values
    progress = computed.progress if computed.progress is not None else values.get("progress")
    due = values.get("due")
    completed = values.get("completed")
    return {
        "id": values.get("id") or "",
        "name": values.get("name") or "",
        "owner": values.get("owner") or "",
        "status": computed.status,
        "color": STATUS_COLORS.get(computed.status, "#555555"),
        "due": due.isoformat() if isinstance(due, date) else "",
        "completed": completed.isoformat() if isinstance(completed, date) else "",
        "days_late": "" if computed.days_late is None else computed.days_late,
        "budget": money(values.get("budget")),
        "actual": money(values.get("actual")),
        "variance": money(computed.budget_variance),
        "variance_pct": _percent(computed.budget_variance_pct),
        "over_budget": (computed.budget_variance or 0) > 0,
        "progress_pct": None if progress is None else round(progress * 100),
        "expected_pct": computed.expected_progress_pct,
        "metric": values.get("metric") or "",
        "target": amount(values.get("target")),
        "result": amount(values.get("result")),
        "check": computed.check or "",
        "reason": extra_reasons(computed),
        "cell": record.cell_of(header, record.problems[0], sheet)
        if header is not None and record.problems
        else f"{sheet}!A{record.row}",
        "link": link_of(sheet, record.row - 1, 0),
    }


@dataclass
class Person:
    """One recipient: a name, an address and their rows."""

    name: str
    email: str | None
    rows: list[tuple[Record, Any]] = field(default_factory=list)


@dataclass
class Review:
    """One person's review email: its sections, as template variables."""

    name: str
    email: str
    subject: str
    context: dict[str, Any]


@dataclass
class Unreachable:
    """A person with something to review but no usable address."""

    name: str
    reason: str
    rows: list[int]


def group_people(rows: Sequence[tuple[Record, Any]]) -> tuple[list[Person], list[Unreachable]]:
    """Group rows by email (case-insensitive); a row with no valid address joins its
    owner's group when that owner name has exactly one address."""
    by_email: dict[str, Person] = {}
    addresses_by_name: dict[str, set[str]] = {}
    for record, _ in rows:
        email, owner = record.values.get("email"), record.values.get("owner")
        if email and owner:
            addresses_by_name.setdefault(" ".join(owner.split()).lower(), set()).add(email.lower())
    orphans: dict[str, list[tuple[Record, Any]]] = {}
    for record, computed in rows:
        email = record.values.get("email")
        owner = " ".join((record.values.get("owner") or "").split())  # no line breaks in a name
        if not email:
            known = addresses_by_name.get(owner.lower(), set())
            if len(known) == 1:
                email = next(iter(known))
            else:
                orphans.setdefault(owner.lower(), []).append((record, computed))
                continue
        person = by_email.get(email.lower())
        if person is None:
            person = by_email[email.lower()] = Person(owner or email, email)
        person.rows.append((record, computed))
    unreachable = []
    for owner_key, orphan_rows in orphans.items():
        name = (orphan_rows[0][0].values.get("owner") or "").strip() or "(no owner)"
        count = len(addresses_by_name.get(owner_key, set()))
        reason = "no email address" if count == 0 else f"{count} different email addresses"
        unreachable.append(Unreachable(name, reason, [r.row for r, _ in orphan_rows]))
    return list(by_email.values()), unreachable


def review_sections(
    person_rows: Sequence[tuple[Record, Any]],
    month: Month,
    sheet: str,
    link_of: LinkOf,
    header: Header | None = None,
    money: Money = amount,
) -> dict[str, list[dict[str, Any]]]:
    """The spec's sections for one person's rows."""
    after = month.next()
    due_now, overdue, coming, fixing = [], [], [], []
    for record, computed in sorted(person_rows, key=lambda rc: rc[0].row):
        line = milestone_line(record, computed, sheet, link_of, header, money)
        if computed.status == INVALID:
            fixing.append(line)
            continue
        due = record.values["due"]
        if month.first <= due <= month.last:
            due_now.append(line)
        elif computed.status == OVERDUE and due < month.first:
            overdue.append(line)
        elif computed.status not in FINISHED and after.first <= due <= after.last:
            coming.append(line)
    return {
        "due_this_month": due_now,
        "still_overdue": overdue,
        "coming_up": coming,
        "needs_fixing": fixing,
    }


def _names_of(person: Person) -> set[str]:
    """Every way the person's name is written in their rows, folded."""
    return {folded(person.name)} | {folded(r.values.get("owner")) for r, _ in person.rows} - {""}


def review_subject(
    month: Month, sections: dict[str, list[dict[str, Any]]], changed: int = 0
) -> str:
    """`Milestone review, June 2026: 3 due, 1 overdue, 1 coming up, 2 to fix, 1 changed`,
    naming only what is there (a count of 0 is left out)."""
    overdue = sum(
        1
        for s in ("due_this_month", "still_overdue")
        for m in sections[s]
        if m["status"] == OVERDUE
    )
    parts = [
        (len(sections["due_this_month"]), "due"),
        (overdue, "overdue"),
        (len(sections["coming_up"]), "coming up"),
        (len(sections["needs_fixing"]), "to fix"),
        (changed, "changed"),
    ]
    said = ", ".join(f"{count} {what}" for count, what in parts if count)
    return f"Milestone review, {month}: {said}" if said else f"Milestone review, {month}"


def plan_reviews(
    evaluation: Evaluation, month: Month, link_of: LinkOf, owner: str | None = None
) -> tuple[list[Review], list[Unreachable]]:
    """One review per person with anything to review, and the people who cannot be mailed."""
    sheet, header = evaluation.milestones.sheet, evaluation.milestones.header
    people, unreachable = group_people(evaluation.milestones.rows())
    goals = goal_items(evaluation)
    money = money_of(evaluation)
    since = since_items(evaluation, month, money)
    wanted = folded(owner) if owner else None
    reviews = []
    for person in people:
        if (
            wanted
            and wanted != folded(person.email)
            and not any(folded(r.values.get("owner")) == wanted for r, _ in person.rows)
        ):
            continue
        sections = review_sections(person.rows, month, sheet, link_of, header, money)
        names = _names_of(person)
        theirs = [item for item in since or () if folded(item["owner"]) in names
                  or item["email"] and folded(item["email"]) == folded(person.email)]  # fmt: skip
        if not any(sections.values()) and not theirs:
            continue
        first = min(person.rows, key=lambda rc: rc[0].row)[0]
        context = {
            "name": person.name,
            "email": person.email,
            "month": str(month),
            "period": month.key,
            "as_of": evaluation.as_of.isoformat(),
            **sections,
            "since_last_review": theirs,
            "goals": [g for g in goals if folded(g["owner"]) in names],
            "questions": REVIEW_QUESTIONS,
            "link": link_of(sheet, first.row - 1, 0),
            "first_cell": f"{sheet}!A{first.row}",
        }
        reviews.append(
            Review(
                person.name,
                person.email or "",
                review_subject(month, sections, len(theirs)),
                context,
            )  # fmt: skip
        )
    kept = []
    for nobody in unreachable:
        if wanted and folded(nobody.name) != wanted:
            continue
        their_rows = set(nobody.rows)
        rows = [(r, c) for r, c in evaluation.milestones.rows() if r.row in their_rows]
        if any(review_sections(rows, month, sheet, link_of).values()):
            kept.append(nobody)
    return reviews, kept


def digest_context(evaluation: Evaluation, month: Month, title: str) -> dict[str, Any]:
    """The manager's digest: the whole plan (the report's figures, without its charts)."""
    context = report_context(evaluation, month, title, charts=False)
    return {**context, "period": month.key}


def digest_subject(month: Month, context: dict[str, Any]) -> str:
    glance = context["glance"]
    return (
        f"Milestone digest, {month}: {context['total']} milestones, "
        f"{glance['overdue']} overdue, {glance['at_risk']} at risk"
    )


@dataclass
class Alert:
    """A milestone in Overdue, At risk or Done late that its owner was not told of yet."""

    name: str
    email: str
    key: str  # the milestone's ID, else its name
    status: str
    previous: str | None
    context: dict[str, Any]

    @property
    def subject(self) -> str:
        return f"Milestone {self.status.lower()}: {self.context['milestone']['name']}"


def plan_alerts(
    evaluation: Evaluation, link_of: LinkOf, told: Callable[[str, str], bool]
) -> tuple[list[Alert], list[Unreachable]]:
    """Alerts for every milestone in an alerting status that its owner was not yet told
    of: `told(email, "KEY:Status")` says whether they were (the ledger knows). An alert
    not delivered (no server, the outbox) is therefore still due on the next run."""
    table = evaluation.milestones
    status_col = table.header.computed.get("Status")
    rows = [(r, c) for r, c in table.rows() if c.status in ALERT_STATUSES]
    people, unreachable = group_people(rows)
    money = money_of(evaluation)
    alerts = []
    for person in people:
        for record, computed in person.rows:
            key = record.values.get("id") or record.values["name"]
            if person.email and told(person.email, f"{key}:{computed.status}"):
                continue
            line = milestone_line(record, computed, table.sheet, link_of, money=money)
            # What the sheet showed before this run (a sync may just have written the new one).
            previous = None if status_col is None else table.grid.cell(record.row - 1, status_col)
            if previous == computed.status:  # told late: the sheet already shows it
                previous = None
            alerts.append(Alert(
                person.name, person.email or "", key, computed.status, previous,
                {"name": person.name, "email": person.email, "milestone": line,
                 "previous_status": previous or "", "as_of": evaluation.as_of.isoformat()},
            ))  # fmt: skip
    return alerts, unreachable
