"""The command line: the only module that imports click. Thin: parse, call, print."""

from __future__ import annotations

import atexit
import functools
import gc
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from milestone_sheets.mail.run import MailPlan

from milestone_sheets import __version__, views
from milestone_sheets.config import Config, load_config
from milestone_sheets.engine import STATUSES, StatusSettings
from milestone_sheets.errors import ConfigError, MilestoneSheetsError
from milestone_sheets.evaluate import Evaluation, Settings, summarize
from milestone_sheets.files import write_atomically
from milestone_sheets.model import cell_ref
from milestone_sheets.report import Month
from milestone_sheets.sources import open_source
from milestone_sheets.sync import read_and_evaluate, run_lock, sync


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector for the length of a command.

    A 100,000-row sheet is millions of small objects (cells, parsed rows, computed
    values), and each time the collector runs it walks all of them: measured, that was a
    third of a sync's time. Reading, evaluating and writing make no reference cycles worth
    collecting. This is the process's policy, so it lives here and not in the library;
    what survives is frozen (moved out of the collector's sight) before it is switched
    back on, so that its first pass does not walk it all either.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if was_enabled:
            gc.enable()


class _Group(click.Group):
    """Turns the library's errors into a message and the spec's exit code, in one place."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            with _collector_paused():
                return super().invoke(ctx)
        except MilestoneSheetsError as err:
            click.secho(f"Error: {err}", err=True, fg="red")
            ctx.exit(err.exit_code)


def _config(ctx: click.Context) -> Config:
    obj = ctx.ensure_object(dict)
    if "config" not in obj:
        obj["config"] = load_config(obj.get("config_path"))
    return obj["config"]


def _settings(config: Config, worksheet: str | None) -> Settings:
    return Settings(
        worksheet=worksheet or config.source.worksheet,
        date_order=config.source.date_order,
        columns=config.columns,
        status=StatusSettings(config.status.at_risk_behind, config.status.checkpoint_days),
    )


def _parse_as_of(_ctx: click.Context, _param: click.Parameter, value: str | None) -> date:
    if value is None:
        return date.today()
    try:
        return datetime.strptime(value, "%Y-%m-%d").date()
    except ValueError:
        raise click.BadParameter(f"'{value}' is not a date in YYYY-MM-DD form") from None


def source_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """SOURCE, --as-of and --worksheet, shared by every command that reads a plan."""

    @click.argument("source", required=False)
    @click.option(
        "--as-of",
        "as_of",
        metavar="DATE",
        callback=_parse_as_of,
        help="Compute status as of this date (YYYY-MM-DD). Default: today.",
    )
    @click.option(
        "--worksheet",
        metavar="NAME",
        help="The milestones worksheet. Default: from the config, else 'Milestones'.",
    )
    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        return command(*args, **kwargs)

    return wrapper


def _report_problems(evaluation: Evaluation) -> None:
    for warning in evaluation.warnings:
        click.secho(f"Warning: {warning}", err=True, fg="yellow")
    for line in evaluation.problems:
        click.echo(line, err=True)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="FILE",
    help="Configuration file. Default: milestone-sheets.toml in the current folder.",
)
@click.version_option(__version__, prog_name="milestone-sheets")
@click.pass_context
def main(ctx: click.Context, config_path: Path | None) -> None:
    """Keep a milestone plan in a spreadsheet up to date: status, variance, reviews.

    The sheet (an Excel workbook or a Google Sheet) is the source of truth.
    milestone-sheets reads it, computes each milestone's status and variance, writes only
    those computed columns back, and sends each owner a monthly review email.

    Example: milestone-sheets demo
    """
    ctx.ensure_object(dict)["config_path"] = config_path


@main.command()
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Overwrite an existing workbook.")
def init(path: Path, force: bool) -> None:
    """Create a starter workbook at PATH, and a milestone-sheets.toml beside it.

    The workbook has Milestones, Goals and Tasks sheets and a dozen milestones of a
    small company's plan, dated around today.

    Example: milestone-sheets init plan.xlsx
    """
    from milestone_sheets.starter import build_workbook, write_config

    if path.suffix.lower() not in (".xlsx", ".xlsm"):
        raise ConfigError(f"{path}: a workbook name ends in .xlsx")
    if path.exists() and not force:
        raise ConfigError(f"{path} exists; pass --force to overwrite it")
    build_workbook(path, date.today())
    click.echo(f"Created {path}")
    config = write_config(path.parent, path)
    if config:
        click.echo(f"Created {config}")
    click.echo(f"Next: milestone-sheets sync {path}")


@main.command()
@click.argument(
    "folder",
    required=False,
    default="milestone-demo",
    type=click.Path(file_okay=False, path_type=Path),
)
@click.option(
    "--as-of",
    "as_of",
    metavar="DATE",
    callback=_parse_as_of,
    help="Status as of this date. Default: today.",
)
@click.option(
    "--google",
    is_flag=True,
    help="Run the demo on a Google Sheet served by the bundled Sheets API emulator on 127.0.0.1.",
)
def demo(folder: Path, as_of: date, google: bool) -> None:
    """Make a demo plan in FOLDER (default ./milestone-demo), sync it and show its status.

    Example: milestone-sheets demo
    """
    from milestone_sheets.starter import build_workbook, write_config

    if google:
        _demo_google(as_of)
        return
    workbook = folder / "milestones.xlsx"
    if workbook.exists():
        click.echo(f"Using the existing demo workbook {workbook}")
    else:
        build_workbook(workbook, as_of)
        write_config(folder, workbook)
        click.echo(f"Created {workbook}")
    config = load_config(folder / "milestone-sheets.toml")
    result = sync(open_source(str(workbook), config), _settings(config, None), as_of)
    evaluation = result.evaluation
    rows = views.status_rows(evaluation.milestones)
    click.echo(views.to_table(rows))
    click.echo()
    click.echo(views.summary_line(summarize(evaluation.milestones.rows())))
    click.echo(
        f"Wrote {len(evaluation.writes)} computed cells." if result.written else "Nothing to write."
    )
    if evaluation.problems:
        click.echo("Data problems to fix in the sheet:")
        for line in evaluation.problems:
            click.echo(f"  {line}")
    report_path = folder / "report.html"
    _write_report(evaluation, Month.of(as_of), "Demo plan", report_path, config)
    goals = views.goal_rows(evaluation.goals)
    if goals:
        click.echo(
            "Goals: " + "; ".join(f"{g['id']} {g['status']} ({g['milestones']})" for g in goals)
        )
    click.echo()
    click.echo(f"Open {workbook.resolve()} to see the Status, Days late and variance columns.")
    click.echo(f"Open {report_path.resolve()} for the review-meeting report.")
    click.echo(f"Config: {(folder / 'milestone-sheets.toml').resolve()}")
    click.echo(f"Again: cd {folder} && milestone-sheets sync")


def _demo_google(as_of: date) -> None:
    """The demo against the emulator: the same plan, synced through the real gspread client."""
    from milestone_sheets.config import parse_config
    from milestone_sheets.starter import DEMO_KEY, starter_tables
    from milestone_sheets.testing.sheets_emulator import SheetsEmulator

    emulator = SheetsEmulator()
    url = emulator.start()
    try:
        emulator.add_spreadsheet(DEMO_KEY, starter_tables(as_of), title="Demo plan")
        config = parse_config({"google": {"endpoint": url}}, Path.cwd())
        result = sync(open_source(f"gsheet:{DEMO_KEY}", config), _settings(config, None), as_of)
        evaluation = result.evaluation
        click.echo(views.to_table(views.status_rows(evaluation.milestones)))
        click.echo()
        click.echo(views.summary_line(summarize(evaluation.milestones.rows())))
        click.echo(
            f"Wrote {len(evaluation.writes)} cells in {len(emulator.requests)} API requests to a Sheets API emulator at {url}."
        )
        for line in evaluation.problems:
            click.echo(f"  {line}")
        click.echo(
            "To keep an emulator running for your own config: python -m milestone_sheets.testing.sheets_emulator"
        )
    finally:
        emulator.stop()


@main.command()
@source_options
@click.pass_context
def validate(ctx: click.Context, source: str | None, as_of: date, worksheet: str | None) -> None:
    """Check the sheet for data problems; writes nothing.

    Prints each problem with its cell; exit code 1 when there are any.

    Example: milestone-sheets validate plan.xlsx
    """
    config = _config(ctx)
    evaluation = read_and_evaluate(open_source(source, config), _settings(config, worksheet), as_of)
    _report_problems(evaluation)
    rows = evaluation.milestones.rows()
    invalid = sum(1 for record, _ in rows if record.problems)
    click.echo(f"{evaluation.milestones.sheet}: {len(rows)} milestones, {invalid} with problems")
    ctx.exit(evaluation.exit_code)


@main.command(name="sync")
@source_options
@click.option("--dry-run", is_flag=True, help="Print the cells that would change; write nothing.")
@click.option(
    "--backup", is_flag=True, help="Keep the previous workbook beside the new one (NAME.bak.xlsx)."
)
@click.option(
    "--all", "all_sources", is_flag=True, help="Sync every [[sources]] entry of the config in turn."
)
@click.option(
    "--notify",
    is_flag=True,
    help="Email owners whose milestones became Overdue, At risk or Done late.",
)
@click.option(
    "--send", is_flag=True, help="With --notify: deliver over SMTP (else write to the outbox)."
)
@click.pass_context
def sync_command(
    ctx: click.Context,
    source: str | None,
    as_of: date,
    worksheet: str | None,
    dry_run: bool,
    backup: bool,
    all_sources: bool,
    notify: bool,
    send: bool,
) -> None:
    """Compute status and variance and write the computed columns back.

    Only computed cells that changed are written; every other cell stays as it was. With
    --all, every source listed under [[sources]] in the config is synced; one failing
    does not stop the others, and the exit code is the worst of them.

    With --notify, owners whose milestones moved into Overdue, At risk or Done late since
    the Status last written get an alert (once per milestone and status).

    Example: milestone-sheets sync plan.xlsx --as-of 2026-06-30
    """
    config = _config(ctx)
    if send and not notify:
        raise ConfigError("sync --send goes with --notify")
    options = _SyncOptions(dry_run, backup, notify, send)
    if not all_sources:
        ctx.exit(_sync_one(config, source, _settings(config, worksheet), as_of, options))
    if source or worksheet:
        raise ConfigError(
            "sync --all takes no SOURCE or --worksheet: it syncs the config's [[sources]]"
        )
    if not config.sources:
        raise ConfigError("sync --all: the config lists no [[sources]]")
    outcomes: list[tuple[str, int, str]] = []
    for entry in config.sources:
        if not entry.location:
            outcomes.append(("(no location)", 2, "a [[sources]] entry has no location"))
            continue
        location = config.resolve(entry.location)
        click.secho(f"== {location}", bold=True)
        settings = replace(_settings(config, entry.worksheet), date_order=entry.date_order)
        try:
            code = _sync_one(config, location, settings, as_of, replace(options, last=False))
            outcomes.append((location, code, "data problems" if code else "ok"))
        except MilestoneSheetsError as err:
            click.secho(f"Error: {err}", err=True, fg="red")
            outcomes.append((location, err.exit_code, "failed"))
    click.echo()
    click.echo(f"Synced {len(outcomes)} sources:")
    for location, code, what in outcomes:
        click.echo(f"  {what:<13} exit {code}  {location}")
    failures = [code for _, code, what in outcomes if what not in ("ok", "data problems")]
    ctx.exit(max(failures) if failures else max(code for _, code, _ in outcomes))


@dataclass(frozen=True)
class _SyncOptions:
    dry_run: bool = False
    backup: bool = False
    notify: bool = False
    send: bool = False
    # The command's last sync: its objects may stay until the process ends (see run()).
    # Under --all they are freed after each source, or they would add up.
    last: bool = True


def _sync_one(
    config: Config, source: str | None, settings: Settings, as_of: date, options: _SyncOptions
) -> int:
    """Sync one source under its run lock; print what happened; return the exit code."""
    target = open_source(source, config, backup=options.backup)
    with run_lock(config.review.state, target.location):
        result = sync(target, settings, as_of, dry_run=options.dry_run)
    if options.last:
        _leave_for_exit(result)
    evaluation = result.evaluation
    _report_problems(evaluation)
    mail_code = 0
    if options.notify and result.written:
        from milestone_sheets.mail.run import plan_alert_mail

        plan = plan_alert_mail(evaluation, config, target.link)
        mail_code = _deliver_plan(plan, config, options.send, False, None, "as alerts")
    if options.dry_run:
        for write in evaluation.writes:
            old = "" if write.old is None else write.old
            new = "" if write.value is None else write.value
            click.echo(f"{write.sheet}!{cell_ref(write.row, write.col)}: {old!r} -> {new!r}")
        click.echo(f"Dry run: {len(evaluation.writes)} cells would change; nothing written.")
    elif result.written:
        click.echo(f"Wrote {len(evaluation.writes)} cells to {target.location}")
    else:
        click.echo(f"Up to date: nothing to write to {target.location}")
    click.echo(views.summary_line(summarize(evaluation.milestones.rows())))
    return mail_code or evaluation.exit_code


@main.command()
@source_options
@click.option("--owner", metavar="NAME", help="Only this owner's milestones.")
@click.option(
    "--status",
    "statuses",
    metavar="S",
    multiple=True,
    type=click.Choice(STATUSES, case_sensitive=False),
    help="Only milestones with this status (repeatable).",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "csv", "json"]),
    default="table",
    show_default=True,
)
@click.option(
    "--goals", "with_goals", is_flag=True, help="Show the goals too (json: an object with both)."
)
@click.pass_context
def status(
    ctx: click.Context,
    source: str | None,
    as_of: date,
    worksheet: str | None,
    owner: str | None,
    statuses: tuple[str, ...],
    fmt: str,
    with_goals: bool,
) -> None:
    """Print each milestone's computed status (and goals, with --goals); writes nothing.

    Example: milestone-sheets status --format json --status Overdue
    """
    config = _config(ctx)
    evaluation = read_and_evaluate(open_source(source, config), _settings(config, worksheet), as_of)
    _report_problems(evaluation)
    rows = views.status_rows(evaluation.milestones, owner, statuses)
    goals = views.goal_rows(evaluation.goals) if with_goals else []
    if fmt == "json":
        click.echo(views.to_json({"milestones": rows, "goals": goals} if with_goals else rows))
    elif fmt == "csv":
        click.echo(views.to_csv(rows), nl=False)
        if with_goals:
            click.echo()
            click.echo(views.to_csv(goals, views.GOAL_KEYS), nl=False)
    else:
        click.echo(views.to_table(rows))
        click.echo(views.summary_line(summarize(evaluation.milestones.rows())))
        if with_goals:
            click.echo()
            click.echo(views.goals_table(goals) if goals else "No Goals sheet.")
    ctx.exit(evaluation.exit_code)


def _parse_month(_ctx: click.Context, _param: click.Parameter, value: str | None) -> Month | None:
    if value is None:
        return None
    try:
        return Month.parse(value)
    except ValueError:
        raise click.BadParameter(f"'{value}' is not a month in YYYY-MM form") from None


month_option = click.option(
    "--month",
    metavar="YYYY-MM",
    callback=_parse_month,
    help="The month under review. Default: the month of --as-of.",
)


@main.command()
@source_options
@month_option
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to write the HTML. Default: milestone-report-YYYY-MM.html.",
)
@click.pass_context
def report(
    ctx: click.Context,
    source: str | None,
    as_of: date,
    worksheet: str | None,
    month: Month | None,
    output: Path | None,
) -> None:
    """Write the review-meeting report: one self-contained HTML file.

    Counts by status, plan vs actual by category and owner, earned value, what is overdue
    or at risk, a timeline, and each goal against its checkpoints.

    Example: milestone-sheets report --month 2026-06 -o review.html
    """
    config = _config(ctx)
    target = open_source(source, config)
    evaluation = read_and_evaluate(target, _settings(config, worksheet), as_of)
    _report_problems(evaluation)
    month = month or Month.of(as_of)
    path = output or Path(f"milestone-report-{month.key}.html")
    _write_report(evaluation, month, Path(target.location).stem, path, config)
    click.echo(f"Wrote {path}")
    ctx.exit(evaluation.exit_code)


@main.command()
@source_options
@month_option
@click.option("--owner", metavar="NAME", help="Only this person's review (no digest).")
@click.option(
    "--outbox",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where to write .eml files. Default: [review] outbox.",
)
@click.option("--send", is_flag=True, help="Deliver over SMTP instead of writing files.")
@click.option(
    "--resend", is_flag=True, help="With --send: send again what the ledger says was sent."
)
@click.option(
    "--digest/--no-digest",
    default=True,
    show_default=True,
    help="The manager's digest ([review] manager).",
)
@click.pass_context
def review(
    ctx: click.Context, source: str | None, as_of: date, worksheet: str | None, month: Month | None,
    owner: str | None, outbox: Path | None, send: bool, resend: bool, digest: bool,
) -> None:  # fmt: skip
    """Write (or, with --send, deliver) the monthly review emails, one per person.

    Each responsible person gets their milestones due this month, still overdue, coming
    up and needing a fix, with the review meeting's questions; the manager gets the
    digest. Sending is safe to repeat: what was sent is in the ledger and is not sent again.

    Example: milestone-sheets review --month 2026-06 --send
    """
    config = _config(ctx)
    if resend and not send:
        raise ConfigError("--resend goes with --send")
    target = open_source(source, config)
    evaluation = read_and_evaluate(target, _settings(config, worksheet), as_of)
    _report_problems(evaluation)
    from milestone_sheets.mail.run import plan_review_mail

    month = month or Month.of(as_of)
    plan = plan_review_mail(
        evaluation,
        month,
        config,
        target.link,
        owner=owner,
        digest=digest,
        title=Path(target.location).stem,
    )
    code = _deliver_plan(plan, config, send, resend, outbox, f"for {month}")
    ctx.exit(code or evaluation.exit_code)


def _deliver_plan(
    plan: MailPlan, config: Config, send: bool, resend: bool, outbox: Path | None, what: str
) -> int:
    """Write or send a mail plan, print who gets what and every failure; the exit code."""
    from milestone_sheets.mail.run import send_mail, write_outbox

    for person in plan.unreachable:
        rows = ", ".join(str(r) for r in person.rows)
        click.echo(f"Not emailed: {person.name} ({person.reason}; rows {rows})")
    for address, reason in plan.refused:
        click.echo(f"Not emailed: {address} ({reason})")
    failures: list[tuple[str, str]] = []
    if not plan.outgoing:
        click.echo(f"No email to send {what}.")
    elif not send:
        folder = outbox or config.review.outbox
        write_outbox(plan.outgoing, folder)
        for line in plan.lines:
            click.echo(f"  {line}")
        click.echo(f"Wrote {len(plan.outgoing)} emails {what} to {folder}. Send them with --send.")
    else:
        with click.progressbar(length=len(plan.outgoing), label="Sending", file=sys.stderr) as bar:
            report = send_mail(plan, config, resend=resend, progress=lambda _item: bar.update(1))
        for item in report.sent:
            click.echo(f"  sent {item.kind} to {item.recipient}")
        if report.already_sent:
            click.echo(f"Already sent {what}, not sent again: {len(report.already_sent)} "
                       "(use --resend to send them again)")  # fmt: skip
        click.echo(f"Sent {len(report.sent)} emails {what}.")
        failures += report.failures
    if failures:
        click.secho(f"Not delivered ({len(failures)}):", err=True, fg="red")
        for address, reason in failures:
            click.echo(f"  {address}: {reason}", err=True)
        return 3
    return 0


def _write_report(
    evaluation: Evaluation, month: Month, title: str, path: Path, config: Config
) -> None:
    from milestone_sheets.report import render_report

    html = render_report(evaluation, month, title, config.review.templates)
    write_atomically(path, html.encode("utf-8"))


# What commands leave for the process's end, where run() ends it (None: not so run).
_left_for_exit: list[Any] | None = None


def _leave_for_exit(*objects: Any) -> None:
    """Keep these until the process ends, when run() ends it without freeing them."""
    if _left_for_exit is not None:
        _left_for_exit.extend(objects)


def run() -> None:
    """The console script: the command, then an end of the process that frees nothing.

    A large sync leaves millions of objects behind (the grid, the parsed rows, the
    writes), and freeing them one by one took 0.2-0.3 s of a 100,000-row sync after its
    work was done. So the command hands them over (_leave_for_exit), and once it is done
    the exit handlers run, output is flushed, and os._exit ends the process, which gives
    all its memory back at once. Called in-process (tests, scripts), `main` frees as usual.
    """
    global _left_for_exit
    _left_for_exit = []
    try:
        main()
        code: int = 0
    except SystemExit as done:  # click's standalone mode always ends so
        if done.code is None or isinstance(done.code, int):
            code = done.code or 0
        else:
            print(done.code, file=sys.stderr)
            code = 1
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe: as Python itself exits then
            code = code or 120
    os._exit(code)


if __name__ == "__main__":  # pragma: no cover
    main(sys.argv[1:])
