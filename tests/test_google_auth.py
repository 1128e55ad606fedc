"""Credentials, tokens and their failures, against a token endpoint on 127.0.0.1.

The service account key is made here (a real RSA key, so google-auth signs a real JWT);
its token_uri points at a local server that answers as Google's does, or not at all.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from test_google import HEADER, KEY, rows

from milestone_sheets.cli import main
from milestone_sheets.config import parse_config
from milestone_sheets.sources.google import load_credentials
from milestone_sheets.testing.sheets_emulator import ApiError

ACCOUNT = "plan-sync@project.iam.gserviceaccount.com"


class TokenServer:
    """Google's token endpoint as a test needs it: `answer` is (status, JSON body), or
    None to accept the connection and never answer."""

    def __init__(self, answer: tuple[int, dict] | None):
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                outer.calls += 1
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if outer.answer is None:
                    outer.release.wait(30)
                    return
                status, body = outer.answer
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.answer = answer
        self.calls = 0
        self.release = threading.Event()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/token"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


def key_file(tmp_path, token_uri: str):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    path = tmp_path / "service-account.json"
    path.write_text(json.dumps({
        "type": "service_account", "project_id": "project", "private_key_id": "k1",
        "private_key": pem, "client_email": ACCOUNT, "client_id": "1",
        "token_uri": token_uri,
    }))  # fmt: skip
    return path


def google_config(tmp_path, monkeypatch, credentials=None, extra=""):
    """A config for a real (https) endpoint: the token is fetched before any API call,
    so a failing token endpoint is met before the network would be."""
    text = f'[source]\nlocation = "gsheet:{KEY}"\n[google]\nendpoint = "https://sheets.invalid"\n'
    if credentials:
        text += f'credentials = "{credentials}"\n'
    (tmp_path / "milestone-sheets.toml").write_text(text + extra)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GOOGLE_APPLICATION_CREDENTIALS", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))  # no gcloud credentials from the real home
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(tmp_path / "gcloud"))


def test_a_revoked_key_is_exit_3_with_what_to_check(runner, tmp_path, monkeypatch):
    server = TokenServer(
        (400, {"error": "invalid_grant", "error_description": "Invalid JWT Signature."})
    )
    try:
        google_config(tmp_path, monkeypatch, key_file(tmp_path, server.url))
        result = runner.invoke(main, ["status"])
    finally:
        server.stop()
    assert result.exit_code == 3, result.output
    assert "Google refused the credentials (invalid_grant" in result.output
    assert "revoked" in result.output and "Traceback" not in result.output
    assert "PRIVATE KEY" not in result.output


def test_no_token_endpoint_is_exit_3(runner, tmp_path, monkeypatch):
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    google_config(tmp_path, monkeypatch, key_file(tmp_path, f"http://127.0.0.1:{port}/token"))
    result = runner.invoke(main, ["status"])
    assert result.exit_code == 3, result.output
    assert "cannot reach Google to get an access token" in result.output


def test_a_silent_token_endpoint_gives_up_after_the_timeout(runner, tmp_path, monkeypatch):
    server = TokenServer(None)
    try:
        google_config(tmp_path, monkeypatch, key_file(tmp_path, server.url), "timeout = 1\n")
        started = time.monotonic()
        result = runner.invoke(main, ["status"])
        elapsed = time.monotonic() - started
    finally:
        server.stop()
    assert result.exit_code == 3, result.output
    assert server.calls >= 1
    assert elapsed < 15, "the token refresh ignored [google] timeout"


def test_a_silent_sheets_server_gives_up_after_the_timeout(runner, tmp_path, monkeypatch):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    port = listener.getsockname()[1]
    (tmp_path / "milestone-sheets.toml").write_text(
        f'[source]\nlocation = "gsheet:{KEY}"\n[google]\nendpoint = "http://127.0.0.1:{port}"\n'
        "timeout = 1\n"
    )
    monkeypatch.chdir(tmp_path)
    started = time.monotonic()
    result = runner.invoke(main, ["status"])
    elapsed = time.monotonic() - started
    listener.close()
    assert result.exit_code == 3, result.output
    assert "cannot reach the Sheets API" in result.output
    assert elapsed < 15


def test_no_credentials_says_how_to_sign_in_with_the_sheets_scope(runner, tmp_path, monkeypatch):
    google_config(tmp_path, monkeypatch)
    result = runner.invoke(main, ["status"])
    assert result.exit_code == 3, result.output
    assert "--scopes=https://www.googleapis.com/auth/spreadsheets" in result.output
    assert "Traceback" not in result.output


def test_credential_files_load_the_way_google_auth_loads_them(tmp_path):
    """Authorized-user and workload identity federation files, not only service accounts."""
    user = tmp_path / "user.json"
    user.write_text(json.dumps({"type": "authorized_user", "client_id": "c", "client_secret": "s",
                                "refresh_token": "r"}))  # fmt: skip
    (tmp_path / "token.txt").write_text("subject-token")
    federated = tmp_path / "wif.json"
    federated.write_text(json.dumps({
        "type": "external_account",
        "audience": "//iam.googleapis.com/locations/global/workforcePools/p/providers/q",
        "subject_token_type": "urn:ietf:params:oauth:token-type:id_token",
        "token_url": "https://sts.googleapis.com/v1/token",
        "credential_source": {"file": str(tmp_path / "token.txt")},
    }))  # fmt: skip
    kinds = {}
    for path in (user, federated, key_file(tmp_path, "http://127.0.0.1:9/token")):
        config = parse_config({"google": {"credentials": str(path)}}, tmp_path)
        credentials, email = load_credentials(config)
        kinds[path.name] = (type(credentials).__module__, email)
    assert kinds["user.json"] == ("google.oauth2.credentials", None)
    assert kinds["wif.json"][0] == "google.auth.identity_pool"
    assert kinds["service-account.json"] == ("google.oauth2.service_account", ACCOUNT)


def test_a_plain_http_endpoint_elsewhere_is_refused(runner, tmp_path, monkeypatch):
    (tmp_path / "milestone-sheets.toml").write_text(
        f'[source]\nlocation = "gsheet:{KEY}"\n[google]\nendpoint = "http://sheets.example.com"\n'
    )
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(main, ["status"])
    assert result.exit_code == 2
    assert "access token in clear" in result.output


@pytest.mark.parametrize(
    ("reason", "fix"),
    [
        (
            "ACCESS_TOKEN_SCOPE_INSUFFICIENT",
            "--scopes=https://www.googleapis.com/auth/spreadsheets",
        ),
        ("SERVICE_DISABLED", "not enabled for the credentials' Cloud project"),
        (None, "share it with"),
    ],
)
def test_each_403_reason_gets_its_own_fix(runner, tmp_path, monkeypatch, sheets, reason, fix):
    sheets.add_spreadsheet(KEY, {"Milestones": rows(3)}, cols=len(HEADER))
    details = [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": reason,
                "domain": "googleapis.com"}] if reason else None  # fmt: skip
    sheets.fail_next(ApiError(403, "PERMISSION_DENIED", "Request had insufficient authentication scopes." if reason else "The caller does not have permission", details))  # fmt: skip
    (tmp_path / "milestone-sheets.toml").write_text(
        f'[source]\nlocation = "gsheet:{KEY}"\n[google]\nendpoint = "{sheets.url}"\n'
    )
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(main, ["status"])
    assert result.exit_code == 3
    assert fix in result.output
    if reason:
        assert "share it" not in result.output


def test_finding_the_milestones_sheet_among_many_takes_one_read(
    runner, tmp_path, monkeypatch, sheets
):
    tabs = {f"Tab {i}": [["note"], [i]] for i in range(7)}
    tabs["Plan 2026"] = rows(4)
    sheets.add_spreadsheet(KEY, tabs, cols=len(HEADER))
    (tmp_path / "milestone-sheets.toml").write_text(
        f'[source]\nlocation = "gsheet:{KEY}"\n[google]\nendpoint = "{sheets.url}"\n'
    )
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(main, ["status", "--as-of", "2026-06-15"])
    assert result.exit_code == 0, result.output
    assert sheets.count() == 2  # the metadata, and every sheet's values in one batchGet
