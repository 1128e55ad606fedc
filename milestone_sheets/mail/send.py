"""SMTP delivery with the standard library: retries, a rate limit, and the ledger.

Each message's intent is recorded before it goes to the server, and it is recorded as
sent the moment the server accepts it, before the next is sent: a run that dies part-way
is completed by the next run. Every message has a Message-ID fixed by (period, recipient,
kind, key), so the one message a kill at the worst moment can send twice arrives twice
as the same message.
"""

from __future__ import annotations

import hashlib
import smtplib
import ssl
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage

from milestone_sheets.config import SmtpConfig
from milestone_sheets.mail.ledger import Ledger

DEFAULT_PORTS = {"none": 25, "starttls": 587, "ssl": 465}
RETRY_WAITS = (1.0, 3.0, 9.0)  # seconds: short, growing; a cron job must not hang


class TemporaryFailure(Exception):
    """4xx, a dropped connection, a timeout: worth trying again."""


class PermanentFailure(Exception):
    """5xx for this message: trying again will not help."""


class FatalFailure(Exception):
    """The server refuses us altogether (authentication): stop sending."""


@dataclass(frozen=True)
class Outgoing:
    """A message to send and its ledger entry; its Message-ID is set from the entry."""

    kind: str  # review, digest or alert
    recipient: str
    period: str
    message: EmailMessage
    key: str = ""

    def __post_init__(self) -> None:
        self.set_message_id(0)

    def set_message_id(self, resent: int) -> str:
        """The message's fixed Message-ID; `resent` counts deliberate resends (--resend),
        each of which is a new message."""
        sender = self.message["From"]
        domain = sender.addresses[0].domain if sender and sender.addresses else "localhost"
        seed = f"{self.period}|{self.recipient.lower()}|{self.kind}|{self.key}|{resent}"
        message_id = f"<{hashlib.sha256(seed.encode()).hexdigest()[:32]}@{domain or 'localhost'}>"
        del self.message["Message-ID"]
        self.message["Message-ID"] = message_id
        return message_id


@dataclass
class DeliveryReport:
    sent: list[Outgoing] = field(default_factory=list)
    already_sent: list[Outgoing] = field(default_factory=list)
    failures: list[tuple[str, str]] = field(default_factory=list)  # (address, reason)
    # Sent again because a run was killed while sending them (same Message-ID).
    interrupted: list[Outgoing] = field(default_factory=list)
    stopped: str | None = None  # why sending stopped before the end, said once
    unsent: list[Outgoing] = field(default_factory=list)  # what that left for the next run

    @property
    def exit_code(self) -> int:
        return 3 if self.failures or self.stopped else 0


def _describe(err: Exception) -> str:
    if isinstance(err, smtplib.SMTPResponseException):
        text = (
            err.smtp_error.decode(errors="replace")
            if isinstance(err.smtp_error, bytes)
            else str(err.smtp_error)
        )
        return f"{err.smtp_code} {text}".strip()
    return str(err) or type(err).__name__


_HINTS = {
    "connect": 'Check [smtp] host and port: 587 with security = "starttls" or 465 with '
    '"ssl" for a provider (Microsoft 365: smtp.office365.com:587; Gmail: '
    'smtp.gmail.com:587), 25 with security = "none" for a local relay.',
    "starttls": "The server offers no STARTTLS: for a local relay without TLS set "
    'security = "none"; for port 465 set security = "ssl".',
    "tls": 'Port 465 wants security = "ssl", port 587 wants "starttls"; a local relay '
    'without TLS wants "none".',
}


class SmtpMailer:
    """One SMTP session, opened on first use and again after a failure."""

    def __init__(self, config: SmtpConfig, password: str | None):
        self.config = config
        self.password = password
        self.port = config.port or DEFAULT_PORTS[config.security]
        self.where = f"{config.host}:{self.port}"
        self.smtp: smtplib.SMTP | None = None

    def _connect(self) -> smtplib.SMTP:
        context = ssl.create_default_context()
        try:
            if self.config.security == "ssl":
                smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                    self.config.host, self.port, timeout=self.config.timeout, context=context
                )
            else:
                smtp = smtplib.SMTP(self.config.host, self.port, timeout=self.config.timeout)
                if self.config.security == "starttls":
                    smtp.starttls(context=context)
            if self.config.username:
                smtp.login(self.config.username, self.password or "")
        except smtplib.SMTPAuthenticationError as err:
            raise FatalFailure(
                f"{self.where} refused the login for {self.config.username}: {_describe(err)}"
            ) from None
        except smtplib.SMTPNotSupportedError as err:
            raise FatalFailure(f"{self.where}: {err}. {_HINTS['starttls']}") from None
        except ssl.SSLError as err:
            raise FatalFailure(f"{self.where}: TLS failed: {err}. {_HINTS['tls']}") from None
        except (OSError, smtplib.SMTPException) as err:
            # Once, not per recipient and not retried: a server that is not there (or
            # not an SMTP server) will not be there a few seconds later either.
            raise FatalFailure(
                f"cannot reach an SMTP server at {self.where} within {self.config.timeout:g} s: "
                f"{_describe(err)}. {_HINTS['connect']}"
            ) from None
        return smtp

    def send(self, message: EmailMessage) -> None:
        if self.smtp is None:
            self.smtp = self._connect()
        try:
            refused = self.smtp.send_message(message)
        except smtplib.SMTPNotSupportedError:
            raise PermanentFailure(
                "the address is not ASCII and the server does not offer SMTPUTF8; "
                "ask for an ASCII address or a server that accepts international mail"
            ) from None
        except smtplib.SMTPRecipientsRefused as err:
            code, text = next(iter(err.recipients.values()))
            reason = f"{code} {text.decode(errors='replace') if isinstance(text, bytes) else text}"
            raise (PermanentFailure if code >= 500 else TemporaryFailure)(reason) from None
        except (
            smtplib.SMTPSenderRefused,
            smtplib.SMTPDataError,
            smtplib.SMTPResponseException,
        ) as err:
            if err.smtp_code >= 500:
                raise PermanentFailure(_describe(err)) from None
            self.close()
            raise TemporaryFailure(_describe(err)) from None
        except (TimeoutError, smtplib.SMTPServerDisconnected, OSError) as err:
            self.close()
            raise TemporaryFailure(f"{self.where}: {_describe(err)}") from None
        if refused:
            code, text = next(iter(refused.values()))
            raise PermanentFailure(f"{code} {text!r}")

    def close(self) -> None:
        if self.smtp is not None:
            try:
                self.smtp.quit()
            except (smtplib.SMTPException, OSError):
                self.smtp.close()
            self.smtp = None


def _stop(
    report: DeliveryReport, rest: Sequence[Outgoing], ledger: Ledger, resend: bool, reason: str
) -> None:
    """Sending stops: the reason once, and every message still due for the next run."""
    report.stopped = reason
    report.unsent = [
        item for item in rest
        if resend or not ledger.sent(item.kind, item.recipient, item.period, item.key)
    ]  # fmt: skip


def deliver(
    outgoing: Sequence[Outgoing],
    ledger: Ledger,
    mailer: SmtpMailer,
    *,
    resend: bool = False,
    rate_per_minute: float = 0,
    retry_waits: Sequence[float] | None = None,
    progress: Callable[[Outgoing], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> DeliveryReport:
    """Send what the ledger does not hold yet; report every message not delivered."""
    report = DeliveryReport()
    retry_waits = RETRY_WAITS if retry_waits is None else retry_waits
    interval = 60.0 / rate_per_minute if rate_per_minute else 0.0
    last_sent = 0.0
    pending = list(outgoing)
    try:
        for index, item in enumerate(pending):
            entry = (item.kind, item.recipient, item.period)
            if not resend and ledger.sent(*entry, item.key):
                report.already_sent.append(item)
                if progress:
                    progress(item)
                continue
            if ledger.interrupted(*entry, item.key):
                report.interrupted.append(item)
            message_id = item.set_message_id(ledger.times_sent(*entry, item.key) if resend else 0)
            ledger.begin(*entry, message_id, item.key)
            for attempt in range(len(retry_waits) + 1):
                if interval:
                    sleep(max(0.0, last_sent + interval - time.monotonic()))
                try:
                    mailer.send(item.message)
                except PermanentFailure as err:
                    report.failures.append((item.recipient, str(err)))
                    break
                except TemporaryFailure as err:
                    if attempt == len(retry_waits):
                        _stop(report, pending[index:], ledger, resend,
                              f"{err} (gave up after {attempt + 1} tries)")  # fmt: skip
                        return report
                    sleep(retry_waits[attempt])
                    continue
                except FatalFailure as err:
                    _stop(report, pending[index:], ledger, resend, str(err))
                    return report
                last_sent = time.monotonic()
                ledger.sent_now(*entry, message_id, item.key)
                report.sent.append(item)
                break
            if progress:
                progress(item)
    finally:
        mailer.close()
    return report
