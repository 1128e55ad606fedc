"""Reviews, digests and alerts from an evaluation to the outbox or the mail server."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from milestone_sheets.config import Config
from milestone_sheets.domain.evaluate import Evaluation
from milestone_sheets.domain.months import Month
from milestone_sheets.domain.values import parse_email
from milestone_sheets.errors import ConfigError
from milestone_sheets.files import held_lock, private_folder, write_atomically
from milestone_sheets.mail.compose import (
    LinkOf,
    Review,
    Unreachable,
    digest_context,
    digest_subject,
    plan_alerts,
    plan_reviews,
)
from milestone_sheets.mail.ledger import Ledger
from milestone_sheets.mail.render import Renderer
from milestone_sheets.mail.send import DeliveryReport, Outgoing, SmtpMailer, deliver

PASSWORD_VARIABLE = "MILESTONE_SHEETS_SMTP_PASSWORD"


@dataclass
class MailPlan:
    """What a run would send, and who cannot be mailed and why."""

    outgoing: list[Outgoing] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)  # who gets what, for the summary
    unreachable: list[Unreachable] = field(default_factory=list)
    refused: list[tuple[str, str]] = field(default_factory=list)  # (address, reason)


def _allowed(email: str, domains: Sequence[str]) -> bool:
    return not domains or email.rsplit("@", 1)[-1].lower() in domains


def _add(plan: MailPlan, config: Config, item: Outgoing, line: str) -> None:
    if _allowed(item.recipient, config.review.allowed_domains):
        plan.outgoing.append(item)
        plan.lines.append(line)
    else:
        plan.refused.append((item.recipient, "domain not in [review] allowed_domains"))


@dataclass(frozen=True)
class Rendered:
    """A review with its two rendered parts, before it becomes a MIME message."""

    review: Review
    text: str
    html: str


def render_reviews(
    evaluation: Evaluation,
    month: Month,
    renderer: Renderer,
    link_of: LinkOf,
    owner: str | None = None,
) -> tuple[list[Rendered], list[Unreachable]]:
    """Compose and render every person's review (the part the render benchmark times)."""
    reviews, unreachable = plan_reviews(evaluation, month, link_of, owner)
    rendered = [Rendered(review, *renderer.render("review", review.context)) for review in reviews]
    return rendered, unreachable


def plan_review_mail(
    evaluation: Evaluation,
    month: Month,
    config: Config,
    link_of: LinkOf,
    *,
    owner: str | None = None,
    digest: bool = True,
    title: str = "Milestone plan",
) -> MailPlan:
    """The review emails of a month, one per person, and the manager's digest."""
    renderer = Renderer(config.review.templates, config.review.sender, config.review.reply_to)
    rendered, unreachable = render_reviews(evaluation, month, renderer, link_of, owner)
    plan = MailPlan(unreachable=unreachable)
    for item in rendered:
        review = item.review
        message = renderer.assemble(item.text, item.html, review.name, review.email, review.subject)
        _add(plan, config, Outgoing("review", review.email.lower(), month.key, message),
             f"{review.name} <{review.email}>: review ({review.subject.partition(': ')[2]})")  # fmt: skip
    if digest and config.review.manager and not owner:
        manager = parse_email(config.review.manager, "review.manager")
        assert manager is not None
        context = digest_context(evaluation, month, title)
        subject = digest_subject(month, context)
        message = renderer.message("digest", context, "", manager, subject)
        _add(
            plan,
            config,
            Outgoing("digest", manager.lower(), month.key, message),
            f"{manager}: digest",
        )
    return plan


def plan_alert_mail(evaluation: Evaluation, config: Config, link_of: LinkOf) -> MailPlan:
    """An email for each milestone in Overdue, At risk or Done late whose owner the
    ledger has no alert of (for that milestone and status) yet."""
    renderer = Renderer(config.review.templates, config.review.sender, config.review.reply_to)
    ledger = Ledger(config.review.state)
    try:
        alerts, unreachable = plan_alerts(
            evaluation, link_of, lambda email, key: ledger.sent("alert", email, "", key)
        )
    finally:
        ledger.close()
    plan = MailPlan(unreachable=unreachable)
    period = evaluation.as_of.strftime("%Y-%m")
    for alert in alerts:
        message = renderer.message("alert", alert.context, alert.name, alert.email, alert.subject)
        item = Outgoing(
            "alert", alert.email.lower(), period, message, f"{alert.key}:{alert.status}"
        )
        _add(
            plan, config, item, f"{alert.name} <{alert.email}>: alert ({alert.key} {alert.status})"
        )
    return plan


def _file_name(item: Outgoing) -> str:
    safe = re.sub(
        r"[^A-Za-z0-9@._-]+", "_", f"{item.period}-{item.kind}-{item.key}-{item.recipient}"
    )
    return re.sub(r"_+", "_", safe.replace("--", "-")) + ".eml"


def write_outbox(outgoing: Sequence[Outgoing], folder: Path) -> list[Path]:
    """One .eml file per message; a file is written whole or not at all."""
    private_folder(folder)
    paths = []
    for item in outgoing:
        path = folder / _file_name(item)
        write_atomically(path, bytes(item.message))
        paths.append(path)
    return paths


def smtp_password() -> str | None:
    """The SMTP password: only ever from the environment, never from a file or argument."""
    return os.environ.get(PASSWORD_VARIABLE)


def send_mail(
    plan: MailPlan,
    config: Config,
    *,
    resend: bool = False,
    progress: Callable[[Outgoing], None] | None = None,
    retry_waits: Sequence[float] | None = None,
) -> DeliveryReport:
    """Deliver over SMTP what the ledger does not hold yet."""
    if not config.review.sender:
        raise ConfigError(
            "sending needs [review] from in milestone-sheets.toml (the sender address)"
        )
    if config.smtp.username and smtp_password() is None:
        raise ConfigError(f"[smtp] username is set but {PASSWORD_VARIABLE} is not")
    with _sending_lock(config.review.state):
        ledger = Ledger(config.review.state)
        try:
            mailer = SmtpMailer(config.smtp, smtp_password())
            return deliver(
                plan.outgoing, ledger, mailer, resend=resend,
                rate_per_minute=config.smtp.rate_per_minute, retry_waits=retry_waits,
                progress=progress,
            )  # fmt: skip
        finally:
            ledger.close()


@contextmanager
def _sending_lock(state: Path) -> Iterator[None]:
    """One run sends from a ledger at a time: a second one, started while the first is
    sending, stops before it sends anything (exit 3)."""
    busy = (f"another milestone-sheets run is sending mail from {state}; nothing was sent. "
            "Run again when it has finished: the ledger then says what is left")  # fmt: skip
    with held_lock(private_folder(state / "locks") / "sending.lock", busy):
        yield
