"""The tables a source holds (Milestones, Goals, Tasks): their fields and computed columns."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Field:
    """A column the tool reads: its key, label for messages, header aliases and kind."""

    key: str
    label: str
    aliases: tuple[str, ...]
    kind: str  # text, email, date, money, fraction, number, done
    required: bool = False


@dataclass(frozen=True)
class TableSpec:
    """What one kind of table (Milestones, Goals, Tasks) holds."""

    name: str
    fields: tuple[Field, ...]
    computed: tuple[str, ...]
    key_fields: tuple[str, ...] = ()  # identify a row: the first present one is the key

    def field(self, key: str) -> Field:
        return next(f for f in self.fields if f.key == key)


# Fields that Milestones and Goals share, with the same aliases.
EMAIL = Field("email", "Email", ("Email", "E-mail", "Owner email"), "email")
START = Field("start", "Start", ("Start", "Start date", "Begins"), "date")
DUE = Field(
    "due", "Due", ("Due", "Due date", "Deadline", "End", "End date", "Target date"), "date", True
)

MILESTONES = TableSpec(
    name="Milestones",
    fields=(
        Field("id", "ID", ("ID", "Milestone ID", "Key", "#"), "text"),
        Field("name", "Name", ("Milestone", "Name", "Milestone name", "Title"), "text", True),
        Field(
            "owner",
            "Owner",
            ("Owner", "Person responsible", "Responsible", "Manager", "Assignee"),
            "text",
            True,
        ),
        EMAIL,
        Field("category", "Category", ("Category", "Type"), "text"),
        Field("department", "Department", ("Department", "Dept", "Team"), "text"),
        Field("goal", "Goal", ("Goal", "Goal ID", "Objective"), "text"),
        START,
        DUE,
        Field(
            "completed",
            "Completed",
            ("Completed", "Completed on", "Done on", "Actual end", "Finished"),
            "date",
        ),
        Field("budget", "Budget", ("Budget", "Planned budget", "Plan"), "money"),
        Field("actual", "Actual", ("Actual", "Actual cost", "Actual spend", "Spent"), "money"),
        Field("progress", "Progress", ("Progress", "% complete", "Percent complete"), "fraction"),
        Field("metric", "Metric", ("Metric", "KPI", "Planned benefit"), "text"),
        Field("target", "Target", ("Target", "Metric target"), "number"),
        Field("result", "Result", ("Result", "Metric actual", "Actual result"), "number"),
    ),
    computed=(
        "Status",
        "Days late",
        "Slip (days)",
        "Budget variance",
        "Budget variance %",
        "Expected progress %",
        "Check",
    ),
    key_fields=("id", "name"),
)


GOALS = TableSpec(
    name="Goals",
    fields=(
        Field("id", "ID", ("ID", "Goal ID", "Key", "#"), "text"),
        Field("name", "Goal", ("Goal", "Name", "Goal name", "Objective", "Title"), "text", True),
        Field("area", "Area", ("Area", "Category"), "text"),
        Field("owner", "Owner", ("Owner", "Person responsible", "Responsible"), "text"),
        EMAIL,
        START,
        DUE,
        Field("metric", "Metric", ("Metric", "KPI"), "text"),
        Field("target", "Target", ("Target", "Metric target"), "number"),
        Field("actual", "Actual", ("Actual", "Result", "Metric actual"), "number"),
        Field("pacing", "Pacing", ("Pacing",), "text"),
    ),
    computed=("Status", "Milestones", "Expected to date", "Gap", "Next checkpoint", "Check"),
    key_fields=("id", "name"),
)

TASKS = TableSpec(
    name="Tasks",
    fields=(
        Field("milestone", "Milestone", ("Milestone", "Milestone ID", "Parent"), "text", True),
        Field("name", "Task", ("Task", "Name", "Title"), "text", True),
        Field("owner", "Owner", ("Owner", "Assignee", "Responsible"), "text"),
        Field("due", "Due", ("Due", "Due date", "Deadline"), "date"),
        Field("done", "Done", ("Done", "Completed", "Done on"), "done"),
    ),
    computed=("Status", "Check"),
)
