"""What moved in a plan over time: each sync's view of its milestones, their baselines,
and the changes between views. Pure: `milestone_sheets.history` stores and loads these.

A milestone is followed by its key, its ID, else its name (trimmed, any case), so it
survives a row moved, and a rename when it has an ID.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from typing import Any, NamedTuple

from milestone_sheets.domain.months import Month
from milestone_sheets.domain.rows import Record
from milestone_sheets.domain.status import (
    FINISHED,
    INVALID,
    Computed,
    EarnedValue,
    earned_value,
    expected_days,
)

REMOVED = "Removed"  # the status a change gives a milestone no longer in the sheet


class Seen(NamedTuple):
    """One milestone as one sync saw it: the values it read and the status it computed;
    `progress` is the one used (given, from tasks, or 1 when done). A tuple: a sync makes
    one per milestone, and the store writes it as a row."""

    key: str
    row: int  # the sheet row it was on
    id: str
    name: str
    owner: str
    email: str
    status: str
    due: date | None = None
    start: date | None = None
    completed: date | None = None
    budget: float | None = None
    actual: float | None = None
    progress: float | None = None

    @property
    def label(self) -> str:
        return f"{self.id} {self.name}".strip()


@dataclass(frozen=True)
class Snapshot:
    """The milestones of one sync, by key, with its as-of date and when it ran."""

    as_of: date
    synced_at: str
    milestones: Mapping[str, Seen]


@dataclass(frozen=True)
class Baseline:
    """A milestone's approved due date and budget (the first recorded, or set anew by
    `baseline --reset`), and the as-of date they were set on."""

    due: date | None
    budget: float | None
    set_on: date


@dataclass(frozen=True)
class Past:
    """What the history holds for one source: its snapshots, oldest first, and baselines."""

    snapshots: Sequence[Snapshot] = ()
    baselines: Mapping[str, Baseline] = field(default_factory=dict)

    def state_before(self, day: date) -> Snapshot | None:
        """The last snapshot as of a date before `day`."""
        earlier = [s for s in self.snapshots if s.as_of < day]
        return earlier[-1] if earlier else None


def key_of(values: Mapping[str, Any]) -> str | None:
    """A milestone's key: its ID, else its name, trimmed and folded to lower case."""
    for name in ("id", "name"):
        value = values.get(name)
        if value not in (None, ""):
            return str(value).strip().lower()
    return None


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def seen_of(record: Record, computed: Computed) -> Seen | None:
    """The milestone a row holds, as a sync sees it (None for a row without a key)."""
    values = record.values
    key = key_of(values)
    if key is None or computed.status is None:
        return None
    return Seen(
        key=key,
        row=record.row,
        id=_text(values.get("id")),
        name=_text(values.get("name")),
        owner=_text(values.get("owner")),
        email=_text(values.get("email")),
        status=computed.status,
        due=values.get("due"),
        start=values.get("start"),
        completed=values.get("completed"),
        budget=values.get("budget"),
        actual=values.get("actual"),
        progress=computed.progress,
    )


def slip_days(seen: Seen, baselines: Mapping[str, Baseline]) -> int | None:
    """How many days Due moved from the baseline (later is positive); a milestone with
    no baseline yet has its current due date as baseline, so 0."""
    if seen.status == INVALID or seen.due is None:
        return None
    baseline = baselines.get(seen.key)
    if baseline is None or baseline.due is None:
        return 0
    return (seen.due - baseline.due).days


@dataclass(frozen=True)
class Change:
    """One change of due, budget or status, and the as-of date it was first seen.

    A milestone added after the first snapshot changes status from None; one no longer
    in the sheet changes status to Removed."""

    milestone: Seen  # as it was after the change (before it, for a removal)
    field: str
    old: Any
    new: Any
    seen: date

    @property
    def days(self) -> int | None:
        """For a due date moved: by how many days (later is positive)."""
        if self.field == "due" and isinstance(self.old, date) and isinstance(self.new, date):
            return (self.new - self.old).days
        return None


def changes(states: Sequence[tuple[date, Mapping[str, Seen]]]) -> list[Change]:
    """Every change from each state to the next, oldest first. Due and budget are compared
    with the milestone's last valid state, so a row invalid for a while loses nothing."""
    result: list[Change] = []
    last: dict[str, Seen] = {}  # by key: the last state seen (removed ones are dropped)
    last_valid: dict[str, Seen] = {}
    for index, (day, milestones) in enumerate(states):
        for key, now in milestones.items():
            before = last.get(key)
            if before is None:
                if index > 0:
                    result.append(Change(now, "status", None, now.status, day))
            elif before.status != now.status:
                result.append(Change(now, "status", before.status, now.status, day))
            valid = last_valid.get(key)
            if now.status != INVALID:
                if valid is not None:
                    for name in ("due", "budget"):
                        old, new = getattr(valid, name), getattr(now, name)
                        if old != new:
                            result.append(Change(now, name, old, new, day))
                last_valid[key] = now
            last[key] = now
        for key in [key for key in last if key not in milestones]:
            gone = last.pop(key)
            last_valid.pop(key, None)
            result.append(Change(gone, "status", gone.status, REMOVED, day))
    return result


def history_changes(past: Past) -> list[Change]:
    """Every change the history store holds for a source, oldest first."""
    return changes([(s.as_of, s.milestones) for s in past.snapshots])


@dataclass(frozen=True)
class SinceReview:
    """What changed for one milestone since the previous review, as a template shows it."""

    milestone: Seen
    status: tuple[str, str] | None = None  # (from, to)
    due: tuple[date, date, int] | None = None  # (from, to, days)
    budget: tuple[float | None, float | None] | None = None  # (from, to)
    done: bool = False
    removed: bool = False
    added: bool = False


def since_review(past: Past, month: Month, now: Mapping[str, Seen]) -> list[SinceReview] | None:
    """Each milestone that changed between the last snapshot before `month` (the previous
    month's review) and now; None when the history holds nothing that old."""
    reference = past.state_before(month.first)
    if reference is None:
        return None
    found: dict[str, SinceReview] = {}
    for change in changes([(reference.as_of, reference.milestones), (date.max, now)]):
        item = found.get(change.milestone.key) or SinceReview(change.milestone)
        if change.field == "due":
            item = replace(item, due=(change.old, change.new, change.days or 0))
        elif change.field == "budget":
            item = replace(item, budget=(change.old, change.new))
        elif change.new == REMOVED:
            item = replace(item, removed=True)
        elif change.old is None:
            item = replace(item, added=True)
        else:
            item = replace(item, status=(change.old, change.new),
                           done=change.new in FINISHED and change.old not in FINISHED)  # fmt: skip
        found[change.milestone.key] = replace(item, milestone=change.milestone)
    order = {key: index for index, key in enumerate([*now, *reference.milestones])}
    return sorted(found.values(), key=lambda item: order[item.milestone.key])


@dataclass(frozen=True)
class Drift:
    """Where the plan is drifting: for the manager's digest."""

    slipped: list[SinceReview]  # due later than at the previous review
    slipped_days: int  # their days, added up
    repeated: list[tuple[Seen, int]]  # slipped three times or more since the baseline
    total_slip: int  # the plan's Slip (days) against the baselines, added up
    known: bool  # does the history reach back to the previous review?


REPEATED_SLIPS = 3


def plan_drift(past: Past, month: Month, now: Mapping[str, Seen]) -> Drift:
    """Milestones slipped this month (since the previous review), the days they slipped,
    the ones slipped three times or more since their baseline, and the total slip."""
    since = since_review(past, month, now)
    slipped = [item for item in since or () if item.due is not None and item.due[2] > 0]
    states = [(s.as_of, s.milestones) for s in past.snapshots] + [(date.max, now)]
    counts: dict[str, int] = {}
    for change in changes(states):
        baseline = past.baselines.get(change.milestone.key)
        after_baseline = baseline is None or change.seen > baseline.set_on
        if (change.days or 0) > 0 and after_baseline:
            counts[change.milestone.key] = counts.get(change.milestone.key, 0) + 1
    repeated = [(now[key], count) for key, count in counts.items()
                if count >= REPEATED_SLIPS and key in now]  # fmt: skip
    total = sum(slip_days(seen, past.baselines) or 0 for seen in now.values())
    return Drift(slipped, sum(item.due[2] for item in slipped if item.due), repeated, total,
                 since is not None)  # fmt: skip


@dataclass(frozen=True)
class Trend:
    """Milestone trend analysis: review dates across, each milestone's due date at each."""

    reviews: list[date]
    lines: list[tuple[Seen, list[date | None]]]  # None: not in the plan at that review


def review_dates(past: Past, as_of: date) -> list[date]:
    """The month ends from the first snapshot's month up to `as_of`, then `as_of` itself."""
    if not past.snapshots:
        return [as_of]
    month = Month.of(past.snapshots[0].as_of)
    days = []
    while month.last < as_of:
        days.append(month.last)
        month = month.next()
    return [*days, as_of]


def _state_at(past: Past, day: date, as_of: date, now: Mapping[str, Seen]) -> Mapping[str, Seen]:
    if day >= as_of:
        return now
    state = past.state_before(day + timedelta(days=1))
    return state.milestones if state else {}


def trend(past: Past, as_of: date, now: Mapping[str, Seen], limit: int = 12) -> Trend:
    """Each milestone's due date at every review date; the ones that moved most first,
    at most `limit` lines."""
    reviews = review_dates(past, as_of)
    states = [_state_at(past, day, as_of, now) for day in reviews]
    keys = list(dict.fromkeys(key for state in states for key in state))
    lines = []
    for key in keys:
        dues = [state[key].due if key in state else None for state in states]
        latest = next(state[key] for state in reversed(states) if key in state)
        lines.append((latest, dues))
    lines.sort(key=lambda line: -len({due for due in line[1] if due is not None}))
    return Trend(reviews, lines[:limit])


def earned_value_of(milestones: Iterable[Seen], as_of: date) -> EarnedValue:
    """Earned value of the milestones as a snapshot recorded them, as of `as_of`."""
    return earned_value(
        (m.budget, m.actual, m.progress, expected_days(m.start, m.due, as_of))
        for m in milestones
        if m.status != INVALID
    )


def earned_value_curve(
    past: Past, as_of: date, now: Mapping[str, Seen]
) -> list[tuple[date, EarnedValue]]:
    """PV, EV and AC at each month end the history covers, and now."""
    return [(day, earned_value_of(_state_at(past, day, as_of, now).values(), day))
            for day in review_dates(past, as_of)]  # fmt: skip
