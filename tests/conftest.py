"""Shared fixtures: the CLI runner, each test's own folder, a plan, real servers on
127.0.0.1 (SMTP, the Sheets emulator) and the browser. Workbooks are built by
`workbooks` (the one builder)."""

from __future__ import annotations

import hashlib
import shutil
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from workbooks import HEADER, Formula


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(autouse=True)
def own_folder(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test runs in its own folder: what a command keeps there without a config (the
    history, the locks) is that test's alone."""
    folder = tmp_path_factory.mktemp("cwd")
    monkeypatch.chdir(folder)
    return folder


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture
def plan_rows() -> list[list[Any]]:
    """A plan with a user formula column, a Notes column and bad rows (as of 2026-06-15)."""
    return [
        HEADER + ["Cost per day"],
        ["M1", "Website", "Ana", "ana@example.com", "Product", date(2026, 5, 1), date(2026, 6, 1),
         date(2026, 5, 30), 1000, 900, 1, "went well", Formula("=J3/30", 30)],
        ["M2", "Seed round", "Ben", "ben@example.com", "Other", date(2026, 5, 1), date(2026, 6, 10),
         None, "$12,500", "13k", 0.5, "", Formula("=J4/30", 433.33)],
        ["M3", "Launch", "Cleo", "cleo@example.com", "Product", date(2026, 6, 1), date(2026, 7, 1),
         None, 5000, 1000, "50%", "note", None],
        ["M4", "Hire CTO", "Dev", "dev@example.com", "Other", date(2026, 7, 1), date(2026, 9, 1),
         None, None, None, None, None, None],
        ["M5", "Trade show", "Ana", "ana@example.com", "Marketing & Sales", None, "next friday",
         None, 100, None, None, "", None],
        ["M6", "Support desk", None, "not an email", "Other", None, date(2026, 8, 1),
         None, "lots", None, 150, "", None],
    ]  # fmt: skip


# --- A real SMTP server on 127.0.0.1 (aiosmtpd), started per test -------------------

import socket  # noqa: E402
import threading  # noqa: E402

from aiosmtpd.controller import Controller  # noqa: E402
from aiosmtpd.smtp import AuthResult, LoginPassword  # noqa: E402


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Recorder:
    """Keeps what the server accepted; can refuse an address or drop the connection."""

    def __init__(self):
        self.messages: list[tuple[list[str], bytes]] = []
        self.refuse: dict[str, str] = {}  # address -> SMTP reply, e.g. "550 no such user"
        self.drop_after: int | None = None  # accept this many, then drop every connection
        self.lock = threading.Lock()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.lower() in self.refuse:
            return self.refuse[address.lower()]
        if self.drop_after is not None and len(self.messages) >= self.drop_after:
            server.transport.close()  # a dropped connection, no reply at all
            return "421 closing"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.messages.append((list(envelope.rcpt_tos), envelope.content))
        return "250 Message accepted"

    def recipients(self) -> list[str]:
        return [rcpt for rcpts, _ in self.messages for rcpt in rcpts]


@dataclass
class SmtpServer:
    host: str
    port: int
    recorder: Recorder
    controller: Controller

    def config_text(self, security: str = "none", username: str | None = None) -> str:
        text = f'[smtp]\nhost = "{self.host}"\nport = {self.port}\nsecurity = "{security}"\ntimeout = 5\n'
        if username:
            text += f'username = "{username}"\n'
        return text


def _start(recorder: Recorder, **kwargs: Any) -> SmtpServer:
    port = free_port()
    controller = Controller(recorder, hostname="127.0.0.1", port=port, **kwargs)
    controller.start()
    return SmtpServer("127.0.0.1", port, recorder, controller)


@pytest.fixture
def smtp_server():
    """A plain SMTP server on 127.0.0.1."""
    server = _start(Recorder())
    yield server
    server.controller.stop()


@pytest.fixture
def tls_smtp_server(tmp_path, monkeypatch):
    """SMTP with STARTTLS required (a certificate made here for 127.0.0.1) and AUTH."""
    import ssl

    import trustme

    authority = trustme.CA()
    certificate = authority.issue_cert("127.0.0.1", "localhost")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    certificate.configure_cert(context)
    ca_file = tmp_path / "ca.pem"
    authority.cert_pem.write_to_path(str(ca_file))
    monkeypatch.setenv(
        "SSL_CERT_FILE", str(ca_file)
    )  # the client trusts our CA, nothing else changes

    def text(value: bytes | str) -> str:
        return value.decode() if isinstance(value, bytes) else value

    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = (
            isinstance(auth_data, LoginPassword)
            and text(auth_data.login) == "plan@example.com"
            and text(auth_data.password) == "s3cret-pw"
        )
        # handled=False: aiosmtpd itself answers a failure with 535.
        return AuthResult(success=ok, handled=False)

    server = _start(Recorder(), tls_context=context, require_starttls=True, authenticator=authenticator,
                    auth_require_tls=True)  # fmt: skip
    yield server
    server.controller.stop()


# --- The Sheets API emulator on 127.0.0.1, driven by the real gspread client -----------

from milestone_sheets.testing.sheets_emulator import SheetsEmulator  # noqa: E402


@pytest.fixture
def sheets():
    """A running emulator; `sheets.url` is its endpoint."""
    emulator = SheetsEmulator()
    emulator.url = emulator.start()
    yield emulator
    emulator.stop()


@pytest.fixture(autouse=True)
def _fast_retries(monkeypatch):
    """Retries wait milliseconds in tests, not seconds."""
    from milestone_sheets.sources import google

    monkeypatch.setattr(google.RetryingHTTPClient, "waits", (0.01, 0.02, 0.04, 0.08, 0.16))


# --- Headless Chromium, for what people see -----------------------------------------------

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="Chromium is not installed: apt-get install chromium"
)


def chromium(profile: Path, width: int, height: int) -> list[str]:
    """Headless Chromium with a private profile, nothing fetched from the network."""
    assert CHROMIUM is not None
    return [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
            "--no-first-run", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--hide-scrollbars", f"--user-data-dir={profile}",
            f"--window-size={width},{height}"]  # fmt: skip
