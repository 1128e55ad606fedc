"""The use cases, as a Python API: open a source, evaluate it, sync it, report, review.

The command line is a thin layer over these functions; scripts and notebooks call them
directly::

    from datetime import date
    import milestone_sheets as ms

    source = ms.open_source("plan.xlsx")
    outcome = ms.evaluate(source, as_of=date(2026, 6, 30))
    print(outcome.frame("milestones")[["id", "name", "Status", "Days late"]])
    ms.sync(source)          # writes the computed columns that changed

Each function returns a result object; errors are `errors.MilestoneSheetsError`
subclasses carrying the command line's exit code.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from milestone_sheets.changes import Changes, plan_changes
from milestone_sheets.config import CONFIG_NAME, Config, load_config, parse_config
from milestone_sheets.domain.drift import Baseline, Change, Past, Seen, history_changes
from milestone_sheets.domain.evaluate import Evaluation, Settings, TableResult
from milestone_sheets.domain.evaluate import evaluate as evaluate_book
from milestone_sheets.domain.months import Month
from milestone_sheets.domain.status import StatusSettings
from milestone_sheets.domain.values import folded
from milestone_sheets.errors import (
    ConfigError,
    MilestoneSheetsError,
    SheetChangedError,
    UnexpectedError,
)
from milestone_sheets.files import held_lock, private_folder, write_atomically
from milestone_sheets.history import History, read_past
from milestone_sheets.sources import Source, identity, location_of
from milestone_sheets.sources import open_source as _open_source

if TYPE_CHECKING:
    import pandas

    from milestone_sheets.mail.run import MailPlan
    from milestone_sheets.mail.send import DeliveryReport, Outgoing

__all__ = [
    "Outcome",
    "Settings",
    "evaluate",
    "load_config",
    "open_source",
    "settings_for",
    "sync",
]


def settings_for(
    config: Config, worksheet: str | None = None, date_order: str | None = None
) -> Settings:
    """What evaluation needs from the config (a worksheet or date order given wins)."""
    return Settings(
        worksheet=worksheet or config.source.worksheet,
        date_order=date_order or config.source.date_order,
        columns=config.columns,
        status=StatusSettings(config.status.at_risk_behind, config.status.checkpoint_days),
    )


def open_source(
    location: str | Path | None = None, config: Config | None = None, *, backup: bool = False
) -> Source:
    """The source at a workbook path, a Google Sheets URL or `gsheet:KEY`.

    Without a location, the config's `[source] location`. Without a config, the
    defaults (no milestone-sheets.toml is read).
    """
    config = config or parse_config({}, Path.cwd())
    return _open_source(None if location is None else str(location), config, backup=backup)


@dataclass
class Outcome:
    """One source evaluated as of a date, the cells a sync writes, and what it did."""

    location: str
    evaluation: Evaluation
    changes: Changes
    written: bool = False
    recorded: bool = False  # a snapshot was added to the history
    attempts: int = 1
    write_problems: list[str] = field(default_factory=list)

    @property
    def problems(self) -> list[str]:
        """Every data problem with its cell: rows, then formulas in computed cells."""
        return self.evaluation.problems + self.changes.blocked + self.write_problems

    @property
    def exit_code(self) -> int:
        """0 without problems, 1 with (the command line's codes)."""
        return 1 if self.problems else 0

    def table(self, name: str = "milestones") -> TableResult | None:
        """The evaluated table: milestones, goals or tasks (None if the source has none)."""
        tables = {
            "milestones": self.evaluation.milestones,
            "goals": self.evaluation.goals,
            "tasks": self.evaluation.tasks,
        }
        if name not in tables:
            raise ValueError(f"no table {name!r}: milestones, goals or tasks")
        return tables[name]

    def frame(self, name: str = "milestones") -> pandas.DataFrame:
        """A table as a pandas DataFrame: one row per sheet row that counts, with its row
        number, its fields (parsed values) and its computed columns."""
        from milestone_sheets.frames import table_frame

        return table_frame(self.table(name))


def evaluate(
    source: Source,
    as_of: date | None = None,
    settings: Settings | None = None,
    past: Past | None = None,
) -> Outcome:
    """Read a source and compute every table as of a date (default today); write nothing.

    With the source's history (`past_of`), Slip and the changes since the last review
    are computed too."""
    book = source.read()
    evaluation = evaluate_book(book, settings or Settings(), as_of or date.today(), past)
    return Outcome(source.location, evaluation, plan_changes(evaluation))


def sync(
    source: Source,
    as_of: date | None = None,
    settings: Settings | None = None,
    *,
    dry_run: bool = False,
    history: History | None = None,
) -> Outcome:
    """Write the computed cells that changed; if the source changes under us, read and
    compute again, up to the source's limit (then SheetChangedError, nothing written).

    With a `history`, the Slip column is computed from the baselines and the sync is
    recorded (not a dry run's); without one, the Slip column is left as it is."""
    as_of = as_of or date.today()
    settings = settings or Settings()
    known_as = identity(source.location)
    past = history.past(known_as, snapshots=False) if history is not None else None
    attempts = source.max_attempts
    for attempt in range(1, attempts + 1):
        book = source.read()
        evaluation = evaluate_book(book, settings, as_of, past)
        changes = plan_changes(evaluation)
        outcome = Outcome(source.location, evaluation, changes, attempts=attempt)
        if dry_run:
            return outcome
        if changes.writes:
            try:
                outcome.write_problems = book.write(changes.writes, changes.guards)
            except SheetChangedError as err:
                if attempt == attempts:
                    raise SheetChangedError(
                        f"{err}; gave up after {attempts} tries. Nothing was written."
                    ) from None
                continue
            outcome.written = True
        if history is not None:
            assert past is not None
            outcome.recorded = history.record(known_as, as_of, evaluation.observed, past.baselines)
        return outcome
    raise AssertionError("unreachable")


def past_of(source: Source, config: Config) -> Past:
    """The source's history as the state folder holds it (empty before the first sync)."""
    return read_past(config.review.state, identity(source.location))


def history_of(
    config: Config, location: str | None, key: str | None = None, since: date | None = None
) -> list[Change]:
    """Each change of due, budget or status the history holds for a source, oldest
    first; only one milestone's (`key`: its ID or name) or those seen on or after `since`."""
    past = read_past(config.review.state, identity(location_of(location, config)))
    wanted = folded(key) if key else None
    return [
        change
        for change in history_changes(past)
        if (since is None or change.seen >= since)
        and (
            wanted is None or wanted in (folded(change.milestone.id), folded(change.milestone.name))
        )
    ]


@dataclass
class Baselines:
    """Each milestone as the plan has it now, with its baseline (None: set by the next sync)."""

    outcome: Outcome
    rows: list[tuple[Seen, Baseline | None]]
    reset: int = 0  # how many were set anew


def baselines(
    config: Config,
    location: str | None,
    settings: Settings,
    as_of: date,
    *,
    reset: bool = False,
    keys: Sequence[str] = (),
) -> Baselines:
    """The baselines of a source's milestones; with `reset`, the current due dates and
    budgets become the baseline (of the milestones `keys` names, else of all)."""
    source, outcome = read_plan(config, location, settings, as_of)
    now = outcome.evaluation.observed
    count = 0
    if reset:
        chosen = list(now.values())
        if keys:
            by_name = {folded(value): seen for seen in now.values() for value in (seen.id, seen.name)
                       if value}  # fmt: skip
            unknown = [key for key in keys if folded(key) not in by_name]
            if unknown:
                raise ConfigError(f"no milestone with the ID or name {', '.join(unknown)}; "
                                  "no baseline was changed")  # fmt: skip
            chosen = list({by_name[folded(key)].key: by_name[folded(key)] for key in keys}.values())
        with closing(History(config.review.state)) as history:
            count = history.reset_baselines(identity(source.location), as_of, chosen)
    past = past_of(source, config) if reset else outcome.evaluation.past or Past()
    return Baselines(
        outcome, [(seen, past.baselines.get(seen.key)) for seen in now.values()], count
    )


def read_plan(
    config: Config, location: str | None, settings: Settings, as_of: date
) -> tuple[Source, Outcome]:
    """The source a command names, evaluated with its history; nothing is written."""
    source = _open_source(location, config)
    return source, evaluate(source, as_of, settings, past_of(source, config))


@contextmanager
def source_lock(source: Source, state_dir: Path) -> Iterator[None]:
    """One sync per source at a time: a second run for the same sheet, under any config,
    gives up at once."""
    path = source.lock_path(state_dir)
    if path.parent == state_dir / "locks":
        private_folder(path.parent)
    busy = (f"{source.location}: another milestone-sheets sync of this source is running; "
            "nothing was written")  # fmt: skip
    with held_lock(path, busy, mode=0o666):
        source.recover()
        yield


@dataclass
class SyncRun:
    """One source's sync from the command line: its outcome, or the error that stopped it,
    and the alerts it mailed."""

    location: str
    outcome: Outcome | None = None
    error: MilestoneSheetsError | None = None
    alerts: Delivery | None = None

    @property
    def exit_code(self) -> int:
        if self.error is not None:
            return self.error.exit_code
        assert self.outcome is not None
        mail = self.alerts.exit_code if self.alerts else 0
        return mail or self.outcome.exit_code


@dataclass(frozen=True)
class SyncOptions:
    dry_run: bool = False
    backup: bool = False
    notify: bool = False
    send: bool = False


def sync_source(
    config: Config,
    location: str | None,
    settings: Settings,
    as_of: date,
    options: SyncOptions = SyncOptions(),
) -> SyncRun:
    """Sync one source under its lock, then mail the alerts it calls for (--notify)."""
    source = _open_source(location, config, backup=options.backup)
    with source_lock(source, config.review.state):
        if options.dry_run:  # reads the history, and records nothing
            past = past_of(source, config)
            outcome = evaluate(source, as_of, settings, past)
        else:
            with closing(History(config.review.state)) as history:
                outcome = sync(source, as_of, settings, history=history)
    run = SyncRun(source.location, outcome)
    if options.notify and not options.dry_run:
        from milestone_sheets.mail.run import plan_alert_mail

        plan = plan_alert_mail(outcome.evaluation, config, shared_link_of(source, config))
        run.alerts = deliver(plan, config, send=options.send)
    return run


def sync_all(
    config: Config,
    as_of: date,
    options: SyncOptions = SyncOptions(),
    started: Callable[[str], None] | None = None,
) -> list[SyncRun]:
    """Sync every `[[sources]]` entry (else the single `[source]`); one failing stops none
    of the others."""
    entries = config.sources or ((config.source,) if config.source.location else ())
    if not entries:
        raise ConfigError("sync --all: the config lists no [[sources]] and no [source] location")
    runs = []
    for entry in entries:
        if not entry.location:
            runs.append(
                SyncRun("(no location)", error=ConfigError("a [[sources]] entry has no location"))
            )
            continue
        location = config.resolve(entry.location)
        if started:
            started(location)
        settings = settings_for(config, entry.worksheet, entry.date_order)
        try:
            runs.append(sync_source(config, location, settings, as_of, options))
        except MilestoneSheetsError as err:
            runs.append(SyncRun(location, error=err))
        except Exception as err:  # noqa: BLE001 - one source's failure stops none of the others
            runs.append(SyncRun(location, error=UnexpectedError(err)))
    return runs


def plan_title(source: Source, config: Config | None = None, outcome: Outcome | None = None) -> str:
    """The plan's name in reports and digests: [review] title, else the title row above
    the milestones header (a lone text cell), else the workbook's or sheet's name."""
    if config is not None and config.review.title:
        return config.review.title
    if outcome is not None:
        table = outcome.evaluation.milestones
        above = [cell for cell in (table.grid.rows[0] if table.header.row > 0 else [])
                 if cell not in (None, "")]  # fmt: skip
        if len(above) == 1 and isinstance(above[0], str):
            return above[0].strip()
    return Path(source.location).stem


def print_report(html: Path) -> Path:
    """The report printed to a PDF beside it (NAME.pdf), for the board pack."""
    from milestone_sheets.report.pdf import print_pdf

    return print_pdf(html, html.with_suffix(".pdf"))


def shared_link_of(source: Source, config: Config) -> Callable[[str, int, int], str]:
    """Links for emails: [review] link when set, else the source's own link when others
    can open it (a Google Sheet), else none: a file:// path on the cron host opens for
    nobody else."""
    shared = config.review.link

    def link_of(sheet: str, row: int, col: int = 0) -> str:
        if shared:
            return shared
        link = source.link(sheet, row, col)
        return "" if link.startswith("file:") else link

    return link_of


def write_report(outcome: Outcome, month: Month, title: str, path: Path, config: Config) -> Path:
    """The review-meeting report, one self-contained HTML file, written atomically."""
    from milestone_sheets.report import render_report

    html = render_report(outcome.evaluation, month, title, config.review.templates)
    write_atomically(path, html.encode("utf-8"))
    return path


def plan_review(
    outcome: Outcome,
    source: Source,
    month: Month,
    config: Config,
    *,
    owner: str | None = None,
    digest: bool = True,
) -> MailPlan:
    """The month's review emails, one per person, and the manager's digest."""
    from milestone_sheets.mail.run import plan_review_mail

    return plan_review_mail(
        outcome.evaluation, month, config, shared_link_of(source, config), owner=owner,
        digest=digest, title=plan_title(source, config, outcome),
    )  # fmt: skip


@dataclass
class Delivery:
    """What became of a mail plan: files in the outbox, or messages sent over SMTP."""

    plan: MailPlan
    outbox: Path | None = None
    report: DeliveryReport | None = None

    @property
    def exit_code(self) -> int:
        return self.report.exit_code if self.report else 0


def deliver(
    plan: MailPlan,
    config: Config,
    *,
    send: bool = False,
    resend: bool = False,
    outbox: Path | None = None,
    progress: Callable[[Outgoing], None] | None = None,
) -> Delivery:
    """Send a mail plan over SMTP (once: see the ledger), or write it to the outbox."""
    from milestone_sheets.mail.run import send_mail, write_outbox

    if not plan.outgoing:
        return Delivery(plan)
    if not send:
        folder = outbox or config.review.outbox
        write_outbox(plan.outgoing, folder)
        return Delivery(plan, outbox=folder)
    return Delivery(plan, report=send_mail(plan, config, resend=resend, progress=progress))


@dataclass
class Demo:
    folder: Path
    workbook: Path
    config_path: Path
    report: Path
    outcome: Outcome
    created: bool


def demo(folder: Path, as_of: date) -> Demo:
    """A starter plan in `folder` (reused when there), synced, with its report."""
    from milestone_sheets.starter import build_workbook, write_config

    workbook = folder / "milestones.xlsx"
    created = not workbook.exists()
    if created:
        build_workbook(workbook, as_of, month_before=True)
        write_config(folder, workbook, demo=True)
    config = load_config(folder / CONFIG_NAME)
    source = open_source(workbook, config)
    with closing(History(config.review.state)) as history:
        if created:  # last month's sync, then this month's edits: the demo has a history
            sync(source, as_of - timedelta(days=31), settings_for(config), history=history)
            build_workbook(workbook, as_of)
        outcome = sync(source, as_of, settings_for(config), history=history)
    title = plan_title(source, config, outcome)
    report = write_report(outcome, Month.of(as_of), title, folder / "report.html", config)
    return Demo(folder, workbook, folder / CONFIG_NAME, report, outcome, created)


@dataclass
class GoogleDemo:
    url: str
    requests: int
    outcome: Outcome


def demo_google(as_of: date) -> GoogleDemo:
    """The demo plan in a Google Sheet served by the bundled emulator, synced through the
    real gspread client over HTTP on 127.0.0.1."""
    from milestone_sheets.starter import DEMO_KEY, starter_tables
    from milestone_sheets.testing.sheets_emulator import SheetsEmulator

    emulator = SheetsEmulator()
    url = emulator.start()
    try:
        emulator.add_spreadsheet(DEMO_KEY, starter_tables(as_of), title="Demo plan")
        config = parse_config({"google": {"endpoint": url}}, Path.cwd())
        outcome = sync(open_source(f"gsheet:{DEMO_KEY}", config), as_of, settings_for(config))
        return GoogleDemo(url, len(emulator.requests), outcome)
    finally:
        emulator.stop()


def init(path: Path, today: date, *, force: bool = False, empty: bool = False) -> list[Path]:
    """A starter workbook at `path` (with `empty`, without the sample rows) and a
    milestone-sheets.toml beside it (unless one is there); the files created."""
    from milestone_sheets.starter import build_workbook, write_config

    if path.suffix.lower() not in (".xlsx", ".xlsm"):
        raise ConfigError(f"{path}: a workbook name ends in .xlsx")
    if path.exists() and not force:
        raise ConfigError(f"{path} exists; pass --force to overwrite it")
    build_workbook(path, today, empty=empty)
    config = write_config(path.parent, path)
    return [path] + ([config] if config else [])
