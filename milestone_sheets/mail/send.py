"""SMTP delivery with the standard library: retries, a rate limit, and the ledger.

Each message is recorded in the ledger the moment the server accepts it, before the next
is sent, so a run that dies part-way is completed by the next run without sending twice.
"""

from __future__ import annotations

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
    """A message to send and its ledger entry."""

    kind: str  # review, digest or alert
    recipient: str
    period: str
    message: EmailMessage
    key: str = ""


@dataclass
class DeliveryReport:
    sent: list[Outgoing] = field(default_factory=list)
    already_sent: list[Outgoing] = field(default_factory=list)
    failures: list[tuple[str, str]] = field(default_factory=list)  # (address, reason)

    @property
    def exit_code(self) -> int:
        return 3 if self.failures else 0


def _describe(err: Exception) -> str:
    if isinstance(err, smtplib.SMTPResponseException):
        text = (
            err.smtp_error.decode(errors="replace")
            if isinstance(err.smtp_error, bytes)
            else str(err.smtp_error)
        )
        return f"{err.smtp_code} {text}".strip()
    return str(err) or type(err).__name__


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
            raise FatalFailure(f"{self.where}: {err}") from None
        except ssl.SSLError as err:
            raise FatalFailure(f"{self.where}: TLS failed: {err}") from None
        except (OSError, smtplib.SMTPException) as err:
            raise TemporaryFailure(f"cannot reach {self.where}: {_describe(err)}") from None
        return smtp

    def send(self, message: EmailMessage) -> None:
        if self.smtp is None:
            self.smtp = self._connect()
        try:
            refused = self.smtp.send_message(message)
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
            if not resend and ledger.sent(item.kind, item.recipient, item.period, item.key):
                report.already_sent.append(item)
                if progress:
                    progress(item)
                continue
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
                        report.failures.append(
                            (item.recipient, f"not sent: {err} (gave up after {attempt + 1} tries)")
                        )
                        for rest in pending[index + 1 :]:
                            if resend or not ledger.sent(
                                rest.kind, rest.recipient, rest.period, rest.key
                            ):
                                report.failures.append(
                                    (rest.recipient, f"not sent: sending stopped ({err})")
                                )
                        return report
                    sleep(retry_waits[attempt])
                    continue
                except FatalFailure as err:
                    for rest in pending[index:]:
                        if resend or not ledger.sent(
                            rest.kind, rest.recipient, rest.period, rest.key
                        ):
                            report.failures.append((rest.recipient, f"not sent: {err}"))
                    return report
                last_sent = time.monotonic()
                ledger.record(
                    item.kind,
                    item.recipient,
                    item.period,
                    str(item.message["Message-ID"]),
                    item.key,
                )
                report.sent.append(item)
                break
            if progress:
                progress(item)
    finally:
        mailer.close()
    return report
