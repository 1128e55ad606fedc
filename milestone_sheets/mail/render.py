"""Templates to real messages: multipart/alternative, UTF-8, with proper headers."""

from __future__ import annotations

import email.policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate, parseaddr
from pathlib import Path
from typing import Any

from milestone_sheets.errors import ConfigError
from milestone_sheets.templating import environment

DEFAULT_SENDER = "milestone-sheets <milestone-sheets@localhost>"


def _clean(text: str) -> str:
    """No line breaks in a header, whatever the sheet holds."""
    return " ".join(str(text).split())


def address(name: str, email: str) -> Address:
    """A header address; the domain in its ASCII (IDNA) form, which every server takes."""
    local, _, domain = email.partition("@")
    try:
        domain = domain.encode("idna").decode("ascii")
    except UnicodeError:
        raise ConfigError(f"{email!r}: the domain is not a valid internationalised name") from None
    return Address(display_name=_clean(name), username=local, domain=domain)


def parse_sender(sender: str, key: str = "review.from") -> Address:
    name, email = parseaddr(sender)
    if "@" not in email:
        raise ConfigError(f"{key}: {sender!r} is not an email address")
    return address(name, email)


class Renderer:
    """Renders a kind of message (review, digest, alert) from its text and HTML templates."""

    def __init__(self, templates: Path | None, sender: str | None, reply_to: str | None):
        self.env = environment(templates)
        self.sender = parse_sender(sender or DEFAULT_SENDER)
        self.reply_to = parse_sender(reply_to, "review.reply_to") if reply_to else None
        self._templates: dict[str, Any] = {}

    def _template(self, name: str) -> Any:
        if name not in self._templates:
            self._templates[name] = self.env.get_template(name)
        return self._templates[name]

    def render(self, kind: str, context: dict[str, Any]) -> tuple[str, str]:
        """(text, html) of a kind's templates."""
        return (
            self._template(f"{kind}.txt").render(**context),
            self._template(f"{kind}.html").render(**context),
        )

    def message(
        self, kind: str, context: dict[str, Any], to_name: str, to_email: str, subject: str
    ) -> EmailMessage:
        """Render a kind's templates into a complete message."""
        return self.assemble(*self.render(kind, context), to_name, to_email, subject)

    def assemble(
        self, text: str, html: str, to_name: str, to_email: str, subject: str
    ) -> EmailMessage:
        """multipart/alternative: text/plain, then text/html, both UTF-8."""
        to = address(to_name, to_email)
        # A local part that is not ASCII travels as UTF-8 (SMTPUTF8), never as an
        # encoded-word, which would make it another address.
        international = not (to.username.isascii() and self.sender.username.isascii())
        message = EmailMessage(
            policy=email.policy.SMTPUTF8 if international else email.policy.default
        )
        message["Subject"] = _clean(subject)
        message["From"] = self.sender
        message["To"] = to
        if self.reply_to:
            message["Reply-To"] = self.reply_to
        message["Date"] = formatdate(localtime=True)
        # Quoted-printable: 7-bit clean on the wire whatever the text, for every server.
        message.set_content(text, charset="utf-8", cte="quoted-printable")
        message.add_alternative(html, subtype="html", charset="utf-8", cte="quoted-printable")
        return message
