"""The command line: the only module that imports click. Thin: parse, call `app`, print."""

from __future__ import annotations

import functools
import signal
import sys
import traceback
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import Any

import click

from milestone_sheets import __version__, app, views
from milestone_sheets.config import Config, load_config
from milestone_sheets.domain.evaluate import Settings, summarize
from milestone_sheets.domain.months import Month
from milestone_sheets.domain.status import STATUSES
from milestone_sheets.errors import UNEXPECTED_EXIT_CODE, ConfigError, MilestoneSheetsError


class _Group(click.Group):
    """Turns errors into a message and an exit code, in one place: the library's own
    errors get the spec's code; anything unforeseen gets one line and its own code (the
    traceback with --debug)."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except MilestoneSheetsError as err:
            click.secho(f"Error: {err}", err=True, fg="red")
            ctx.exit(err.exit_code)
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except Exception as err:  # noqa: BLE001 - the one place that turns any error into a message
            if ctx.obj and ctx.obj.get("debug"):
                traceback.print_exc()
            click.secho(
                f"Unexpected error: {type(err).__name__}: {err} (run again with --debug for "
                "the traceback)",
                err=True,
                fg="red",
            )
            ctx.exit(UNEXPECTED_EXIT_CODE)


def _config(ctx: click.Context) -> Config:
    obj = ctx.ensure_object(dict)
    if "config" not in obj:
        obj["config"] = load_config(obj.get("config_path"))
    config: Config = obj["config"]
    return config


def _settings(config: Config, worksheet: str | None) -> Settings:
    return app.settings_for(config, worksheet)


def _parse_date(_ctx: click.Context, _param: click.Parameter, value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return datetime.strptime(value, "%Y-%m-%d").date()
    except ValueError:
        raise click.BadParameter(f"'{value}' is not a date in YYYY-MM-DD form") from None


def _parse_as_of(ctx: click.Context, param: click.Parameter, value: str | None) -> date:
    return _parse_date(ctx, param, value) or date.today()


def _late_config(ctx: click.Context, _param: click.Parameter, value: Path | None) -> None:
    """`milestone-sheets sync --config FILE` means what `--config FILE sync` does."""
    if value is not None:
        obj = ctx.find_root().ensure_object(dict)
        obj["config_path"] = value
        obj.pop("config", None)


config_option = click.option(
    "--config",
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="FILE",
    expose_value=False,
    is_eager=True,
    callback=_late_config,
    help="Configuration file (also accepted before the command).",
)


def format_option(what: str, *formats: str) -> Callable[..., Any]:
    return click.option(
        "--format",
        "fmt",
        type=click.Choice(["table", *formats]),
        default="table",
        show_default=True,
        help=f"How to print the {what}.",
    )


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
    @config_option
    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        return command(*args, **kwargs)

    return wrapper


def _report_problems(outcome: app.Outcome) -> None:
    for warning in outcome.evaluation.warnings:
        click.secho(f"Warning: {warning}", err=True, fg="yellow")
    for line in outcome.problems:
        click.echo(line, err=True)


def _summary(outcome: app.Outcome) -> str:
    return views.summary_line(summarize(outcome.evaluation.milestones.rows()))


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="FILE",
    help="Configuration file. Default: milestone-sheets.toml in the current folder.",
)
@click.option("--debug", is_flag=True, help="Print the traceback of an unexpected error.")
@click.version_option(__version__, prog_name="milestone-sheets")
@click.pass_context
def main(ctx: click.Context, config_path: Path | None, debug: bool) -> None:
    """Keep a milestone plan in a spreadsheet up to date: status, variance, reviews.

    The sheet (an Excel workbook or a Google Sheet) is the source of truth.
    milestone-sheets reads it, computes each milestone's status and variance, writes only
    those computed columns back, and sends each owner a monthly review email.

    Exit codes: 0 done; 1 done, with data problems; 2 usage or configuration error;
    3 source or mail server unreachable or refused; 4 the sheet changed under the sync;
    5 unexpected error.

    Example: milestone-sheets demo
    """
    obj = ctx.ensure_object(dict)
    obj["config_path"] = config_path
    obj["debug"] = debug


@main.command()
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Overwrite an existing workbook.")
@click.option("--empty", is_flag=True, help="The sheets and headers only, without the sample rows.")
def init(path: Path, force: bool, empty: bool) -> None:
    """Create a starter workbook at PATH, and a milestone-sheets.toml beside it.

    The workbook has Milestones, Goals and Tasks sheets and a dozen milestones of a
    small company's plan, dated around today.

    Example: milestone-sheets init plan.xlsx
    """
    for created in app.init(path, date.today(), force=force, empty=empty):
        click.echo(f"Created {created}")
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
    if google:
        google_demo = app.demo_google(as_of)
        outcome = google_demo.outcome
        click.echo(views.to_table(views.status_rows(outcome.evaluation.milestones)))
        click.echo()
        click.echo(_summary(outcome))
        click.echo(
            f"Wrote {len(outcome.changes.writes)} cells in {google_demo.requests} API requests "
            f"to a Sheets API emulator at {google_demo.url}."
        )
        for line in outcome.problems:
            click.echo(f"  {line}")
        click.echo(
            "To keep an emulator running for your own config: "
            "python -m milestone_sheets.testing.sheets_emulator"
        )
        return
    result = app.demo(folder, as_of)
    outcome = result.outcome
    verb = "Created" if result.created else "Using the existing demo workbook"
    click.echo(f"{verb} {result.workbook}")
    click.echo(views.to_table(views.status_rows(outcome.evaluation.milestones)))
    click.echo()
    click.echo(_summary(outcome))
    written = len(outcome.changes.writes)
    click.echo(f"Wrote {written} computed cells." if outcome.written else "Nothing to write.")
    if outcome.problems:
        click.echo("Data problems to fix in the sheet:")
        for line in outcome.problems:
            click.echo(f"  {line}")
    goals = views.goal_rows(outcome.evaluation.goals)
    if goals:
        click.echo(
            "Goals: " + "; ".join(f"{g['id']} {g['status']} ({g['milestones']})" for g in goals)
        )
    click.echo()
    click.echo(
        f"Open {result.workbook.resolve()} to see the Status, Days late and variance columns."
    )
    click.echo(f"Open {result.report.resolve()} for the review-meeting report.")
    click.echo(f"Config: {result.config_path.resolve()}")
    click.echo(f"Again: cd {folder} && milestone-sheets sync")


@main.command()
@source_options
@click.pass_context
def validate(ctx: click.Context, source: str | None, as_of: date, worksheet: str | None) -> None:
    """Check the sheet for data problems; writes nothing.

    Prints each problem with its cell; exit code 1 when there are any.

    Example: milestone-sheets validate plan.xlsx
    """
    config = _config(ctx)
    _, outcome = app.read_plan(config, source, _settings(config, worksheet), as_of)
    _report_problems(outcome)
    rows = outcome.evaluation.milestones.rows()
    invalid = sum(1 for record, _ in rows if record.problems)
    click.echo(
        f"{outcome.evaluation.milestones.sheet}: {len(rows)} milestones, {invalid} with problems"
    )
    ctx.exit(outcome.exit_code)


@main.command(name="sync")
@source_options
@click.option("--dry-run", is_flag=True, help="Print the cells that would change; write nothing.")
@click.option(
    "--backup", is_flag=True, help="Keep the previous workbook beside the new one (NAME.bak.xlsx)."
)
@click.option(
    "--all",
    "all_sources",
    is_flag=True,
    help="Sync every [[sources]] entry of the config (else its [source]), one after another.",
)
@click.option(
    "--notify",
    is_flag=True,
    help="Email owners of milestones in Overdue, At risk or Done late not alerted yet.",
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

    With --notify, owners of milestones in Overdue, At risk or Done late get an alert, once
    per milestone and status; an alert not delivered is due again on the next run.

    Example: milestone-sheets sync plan.xlsx --as-of 2026-06-30
    """
    config = _config(ctx)
    if send and not notify:
        raise ConfigError("sync --send goes with --notify")
    options = app.SyncOptions(dry_run, backup, notify, send)
    if not all_sources:
        run = app.sync_source(config, source, _settings(config, worksheet), as_of, options)
        _print_sync(run, dry_run)
        ctx.exit(run.exit_code)
    if source or worksheet:
        raise ConfigError(
            "sync --all takes no SOURCE or --worksheet: it syncs the config's [[sources]]"
        )
    runs = app.sync_all(config, as_of, options, lambda where: click.secho(f"== {where}", bold=True))
    click.echo()
    click.echo(f"Synced {len(runs)} sources:")
    for run in runs:
        if run.error is not None:
            click.secho(f"Error: {run.error}", err=True, fg="red")
        else:
            _print_sync(run, dry_run)
    for run in runs:
        what = "failed" if run.error else "data problems" if run.exit_code else "ok"
        click.echo(f"  {what:<13} exit {run.exit_code}  {run.location}")
    failures = [run.exit_code for run in runs if run.error or run.exit_code > 1]
    ctx.exit(max(failures) if failures else max(run.exit_code for run in runs))


def _print_sync(run: app.SyncRun, dry_run: bool) -> None:
    """What one source's sync did: problems, the cells (dry run), alerts, the summary."""
    outcome = run.outcome
    assert outcome is not None
    _report_problems(outcome)
    if run.alerts is not None:
        _print_delivery(run.alerts, "as alerts")
    writes = outcome.changes.writes
    if dry_run:
        for line in views.change_lines(outcome.evaluation, writes):
            click.echo(line)
        click.echo(f"Dry run: {len(writes)} cells would change; nothing written.")
    elif outcome.written:
        click.echo(f"Wrote {len(writes)} cells to {run.location}")
    else:
        click.echo(f"Up to date: nothing to write to {run.location}")
    click.echo(_summary(outcome))


@main.command()
@source_options
@click.option(
    "--owner",
    metavar="NAME",
    help="Only this owner's milestones: name or email, any case or accents.",
)
@click.option(
    "--status",
    "statuses",
    metavar="S",
    multiple=True,
    type=click.Choice(STATUSES, case_sensitive=False),
    help="Only milestones with this status (repeatable).",
)
@format_option("rows", "csv", "json")
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
    _, outcome = app.read_plan(config, source, _settings(config, worksheet), as_of)
    _report_problems(outcome)
    rows = views.status_rows(outcome.evaluation.milestones, owner, statuses)
    if owner and not rows and not views.status_rows(outcome.evaluation.milestones, owner):
        owners = sorted({r["owner"] for r in views.status_rows(outcome.evaluation.milestones)
                         if r["owner"]})  # fmt: skip
        click.secho(f"No milestone has the owner '{owner}' (by name or email). Owners: "
                    f"{', '.join(owners) or 'none'}", err=True, fg="yellow")  # fmt: skip
    goals = views.goal_rows(outcome.evaluation.goals) if with_goals else []
    if fmt == "json":
        click.echo(views.to_json({"milestones": rows, "goals": goals} if with_goals else rows))
    elif fmt == "csv":
        click.echo(views.to_csv(rows), nl=False)
        if with_goals:
            click.echo()
            click.echo(views.to_csv(goals, views.GOAL_KEYS), nl=False)
    else:
        click.echo(views.to_table(rows))
        click.echo(_summary(outcome))
        if with_goals:
            click.echo()
            click.echo(views.goals_table(goals) if goals else "No Goals sheet.")
    ctx.exit(outcome.exit_code)


@main.command()
@source_options
@click.option(
    "--reset",
    is_flag=True,
    help="Make the current due dates and budgets the baseline (the plan was approved again).",
)
@click.option(
    "--ids",
    "keys",
    metavar="ID,...",
    multiple=True,
    help="With --reset: only these milestones (IDs or names, comma-separated, repeatable).",
)
@format_option("baselines", "json")
@click.pass_context
def baseline(
    ctx: click.Context, source: str | None, as_of: date, worksheet: str | None, reset: bool,
    keys: tuple[str, ...], fmt: str,
) -> None:  # fmt: skip
    """Show each milestone's baseline due date and budget against the plan now.

    A milestone's baseline is the due date and budget its first sync recorded. With
    --reset, the current ones become the baseline (of all milestones, or of --ids): Slip
    then counts from them, from the next sync on.

    Example: milestone-sheets baseline --reset --ids M3,M7
    """
    config = _config(ctx)
    wanted = [key.strip() for item in keys for key in item.split(",") if key.strip()]
    if wanted and not reset:
        raise ConfigError("--ids goes with --reset")
    result = app.baselines(
        config, source, _settings(config, worksheet), as_of, reset=reset, keys=wanted
    )
    _report_problems(result.outcome)
    rows = views.baseline_rows(result.rows)
    click.echo(views.to_json(rows) if fmt == "json" else views.baselines_table(rows))
    if reset:
        click.echo(f"Baseline set for {_count(result.reset, 'milestone')} as of {as_of}; "
                   "the Slip column shows it from the next sync.", err=fmt == "json")  # fmt: skip
    ctx.exit(result.outcome.exit_code)


@main.command()
@click.argument("source", required=False)
@click.option("--id", "key", metavar="ID", help="Only this milestone (its ID or name).")
@click.option(
    "--since",
    metavar="DATE",
    callback=_parse_date,
    help="Only changes seen on or after this date (YYYY-MM-DD).",
)
@format_option("changes", "json")
@config_option
@click.pass_context
def history(
    ctx: click.Context, source: str | None, key: str | None, since: date | None, fmt: str
) -> None:
    """Print each change of due date, budget or status the syncs have seen; reads only
    the history store (the sheet is not opened).

    A milestone added after the first sync changes status from (new); one no longer in
    the sheet changes status to Removed.

    Example: milestone-sheets history --id M3 --since 2026-01-01
    """
    config = _config(ctx)
    rows = views.history_rows(app.history_of(config, source, key, since))
    if fmt == "json":
        click.echo(views.to_json(rows))
    elif rows:
        click.echo(views.history_table(rows))
    else:
        click.echo("No changes recorded" + (f" for {key}" if key else "") + ".")


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
@click.option(
    "--pdf",
    is_flag=True,
    help="Also print it to a PDF beside the HTML (NAME.pdf), with headless Chromium.",
)
@click.pass_context
def report(
    ctx: click.Context,
    source: str | None,
    as_of: date,
    worksheet: str | None,
    month: Month | None,
    output: Path | None,
    pdf: bool,
) -> None:
    """Write the review-meeting report: one self-contained HTML file.

    Counts by status, plan vs actual by category and owner, earned value, what is overdue
    or at risk, the drift since the last review, a timeline, and each goal against its
    checkpoints. Printed (or with --pdf) it shows every row.

    Example: milestone-sheets report --month 2026-06 -o review.html
    """
    config = _config(ctx)
    target, outcome = app.read_plan(config, source, _settings(config, worksheet), as_of)
    _report_problems(outcome)
    month = month or Month.of(as_of)
    path = output or Path(f"milestone-report-{month.key}.html")
    app.write_report(outcome, month, app.plan_title(target, config, outcome), path, config)
    click.echo(f"Wrote {path}")
    if pdf:
        click.echo(f"Wrote {app.print_report(path)}")
    ctx.exit(outcome.exit_code)


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
    target, outcome = app.read_plan(config, source, _settings(config, worksheet), as_of)
    _report_problems(outcome)
    month = month or Month.of(as_of)
    plan = app.plan_review(outcome, target, month, config, owner=owner, digest=digest)
    if send and plan.outgoing:
        with click.progressbar(length=len(plan.outgoing), label="Sending", file=sys.stderr) as bar:
            delivery = app.deliver(
                plan, config, send=True, resend=resend, progress=lambda _item: bar.update(1)
            )
    else:
        delivery = app.deliver(plan, config, outbox=outbox)
    code = _print_delivery(delivery, f"for {month}")
    ctx.exit(code or outcome.exit_code)


def _print_delivery(delivery: app.Delivery, what: str) -> int:
    """Who gets what, who cannot be mailed, and every failure; the exit code."""
    plan = delivery.plan
    placeholders = [item.recipient for item in plan.outgoing if _placeholder(item.recipient)]
    if placeholders:
        click.secho(
            f"Warning: {_count(len(placeholders), 'email')} to placeholder addresses "
            f"({', '.join(sorted(set(placeholders))[:3])}{', ...' if len(set(placeholders)) > 3 else ''}): "
            "example.com, .org and .net reach nobody. Put real addresses in the sheet's Email "
            "column and in [review] from and manager.",
            err=True, fg="yellow",
        )  # fmt: skip
    for person in plan.unreachable:
        rows = ", ".join(str(r) for r in person.rows)
        click.echo(f"Not emailed: {person.name} ({person.reason}; rows {rows})")
    for address, reason in plan.refused:
        click.echo(f"Not emailed: {address} ({reason})")
    if not plan.outgoing:
        click.echo(f"No email to send {what}.")
    elif delivery.outbox is not None:
        for line in plan.lines:
            click.echo(f"  {line}")
        click.echo(
            f"Wrote {_count(len(plan.outgoing), 'email')} {what} to {delivery.outbox}. "
            "Send them with --send."
        )
    elif delivery.report is not None:
        report = delivery.report
        for item in report.sent:
            click.echo(f"  sent {item.kind} to {item.recipient}")
        if report.already_sent:
            click.echo(f"Already sent {what}, not sent again: {len(report.already_sent)} "
                       "(use --resend to send them again)")  # fmt: skip
        click.echo(f"Sent {_count(len(report.sent), 'email')} {what}.")
        for item in report.interrupted:
            click.echo(f"  sent again after an interrupted run (same Message-ID): "
                       f"{item.kind} to {item.recipient}")  # fmt: skip
        if report.failures:
            click.secho(f"Not delivered ({len(report.failures)}):", err=True, fg="red")
            for address, reason in report.failures:
                click.echo(f"  {address}: {reason}", err=True)
        if report.stopped:
            click.secho(f"Sending stopped: {report.stopped}", err=True, fg="red")
            click.echo(f"Not sent yet: {len(report.unsent)} emails {what}; the next run "
                       "sends them.", err=True)  # fmt: skip
    return delivery.exit_code


def _terminate(signum: int, _frame: object) -> None:
    """SIGTERM (systemd's stop, a cron timeout) unwinds like an error, so that a temporary
    file is removed and a lock released on the way out."""
    raise SystemExit(128 + signum)


def _placeholder(address: str) -> bool:
    """An address at a domain reserved for examples (RFC 2606), such as the starter's."""
    domain = address.rsplit("@", 1)[-1].lower()
    return domain in ("example.com", "example.org", "example.net") or domain.endswith(
        (".example", ".example.com", ".example.org", ".example.net")
    )


def _count(number: int, noun: str) -> str:
    """1 email, 2 emails."""
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def run() -> None:
    """The console script."""
    signal.signal(signal.SIGTERM, _terminate)
    main()


if __name__ == "__main__":  # pragma: no cover
    run()
