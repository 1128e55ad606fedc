"""Review emails, the digest and alerts, delivered to a real SMTP server on 127.0.0.1."""

from __future__ import annotations

import email
import email.policy
from datetime import date
from pathlib import Path

import pytest
from workbooks import write_xlsx

from milestone_sheets.cli import main
from milestone_sheets.mail import send as send_module

HEADER = ["ID", "Milestone", "Owner", "Email", "Start", "Due", "Completed", "Budget", "Actual", "Progress",
          "Metric", "Target", "Result"]  # fmt: skip


def row(id_, name, owner, mail, due, completed=None, budget=None, actual=None, progress=None, start=None,
        metric=None, target=None, result=None):  # fmt: skip
    return [
        id_,
        name,
        owner,
        mail,
        start,
        due,
        completed,
        budget,
        actual,
        progress,
        metric,
        target,
        result,
    ]


PLAN = [
    HEADER,
    row("M1", "Website", "Ana", "ana@example.com", date(2026, 6, 10), date(2026, 6, 9), 1000, 1100, 1,
        metric="Visitors", target=5000, result=6100),
    row("M2", "Seed round", "Ana", "ana@example.com", date(2026, 5, 20), None, 500, 200, 0.5),
    row("M3", "Launch", "Ana", "ana@example.com", date(2026, 7, 15)),
    row("M4", "Later", "Ana", "ana@example.com", date(2026, 8, 10)),
    row("M5", "History", "Ana", "ana@example.com", date(2026, 4, 30), date(2026, 4, 29)),
    row("M6", "<script>alert(1)</script>", "Ana", "ana@example.com", date(2026, 6, 28)),
    row("M7", "Pilot", "Ben", "BEN@example.com", date(2026, 6, 20), progress=0.5),
    row("M8", "Pricing", "ben", None, date(2026, 6, 25)),
    row("M9", "Broken", "Cleo", "cleo@example.com", "next friday"),
    row("M10", "Far away", "Eve", "eve@example.com", date(2026, 9, 1)),
    row("M11", "Twice", "Dee", "dee@example.com", date(2026, 6, 5)),
    row("M12", "Twice more", "Dee", "dee@other.example", date(2026, 6, 6)),
    row("M13", "Nowhere", "Dee", None, date(2026, 6, 7)),
    row("M14", "Café", "Zoë Ågren", "zoe@example.com", date(2026, 6, 30)),
    row("M15", "Sneaky", "Mallory\nBcc: victim@example.com", "mallory@example.com", date(2026, 6, 30)),
    row("M16", "Outsider", "Olga", "olga@elsewhere.example", date(2026, 6, 30)),
]  # fmt: skip
AS_OF = "2026-06-15"


def make_plan(tmp_path, monkeypatch, domains=("example.com", "other.example")) -> Path:
    """The plan above and its config in tmp_path (the working folder), retries in
    milliseconds; mail is allowed to `domains`."""
    path = write_xlsx(tmp_path / "plan.xlsx", {"Milestones": PLAN})
    allowed = ", ".join(f'"{domain}"' for domain in domains)
    (tmp_path / "milestone-sheets.toml").write_text(
        '[source]\nlocation = "plan.xlsx"\n'
        '[review]\nfrom = "Plan Office <plan@example.com>"\nreply_to = "plan@example.com"\n'
        f'manager = "ceo@example.com"\nallowed_domains = [{allowed}]\n'
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(send_module, "RETRY_WAITS", (0.01, 0.02))
    return path


@pytest.fixture
def plan(tmp_path, monkeypatch):
    return make_plan(tmp_path, monkeypatch)


def read(path: Path) -> email.message.EmailMessage:
    return email.message_from_bytes(path.read_bytes(), policy=email.policy.default)


def outbox(tmp_path) -> dict[str, email.message.EmailMessage]:
    return {p.name: read(p) for p in sorted((tmp_path / "outbox").glob("*.eml"))}


def add_smtp(tmp_path, server, **kwargs):
    config = tmp_path / "milestone-sheets.toml"
    config.write_text(config.read_text() + server.config_text(**kwargs))


def text(message) -> str:
    return message.get_body(("plain",)).get_content()


def html(message) -> str:
    return message.get_body(("html",)).get_content()


def test_outbox_has_one_email_per_person_and_the_digest(runner, plan, tmp_path):
    result = runner.invoke(main, ["review", "--as-of", AS_OF])
    assert result.exit_code == 1, result.output  # M9's due date is a data problem
    mails = outbox(tmp_path)
    assert sorted(mails) == [
        "2026-06-digest-ceo@example.com.eml",
        "2026-06-review-ana@example.com.eml",
        "2026-06-review-ben@example.com.eml",
        "2026-06-review-cleo@example.com.eml",
        "2026-06-review-dee@example.com.eml",
        "2026-06-review-dee@other.example.eml",
        "2026-06-review-mallory@example.com.eml",
        "2026-06-review-zoe@example.com.eml",
    ]
    assert "Not emailed: Dee (2 different email addresses; rows 14)" in result.output
    assert (
        "Not emailed: olga@elsewhere.example (domain not in [review] allowed_domains)"
        in result.output
    )
    assert "eve@example.com" not in result.output  # nothing to review this month
    for message in mails.values():
        assert message.get_content_type() == "multipart/alternative"
        parts = [part.get_content_type() for part in message.iter_parts()]
        assert parts == ["text/plain", "text/html"]
        assert all(part.get_content_charset() == "utf-8" for part in message.iter_parts())
        for header in ("Date", "Message-ID", "From", "To", "Subject", "Reply-To"):
            assert message[header], header
        assert str(message["From"]) == "Plan Office <plan@example.com>"


def test_sections_of_a_review(runner, plan, tmp_path):
    runner.invoke(main, ["review", "--as-of", AS_OF])
    ana = outbox(tmp_path)["2026-06-review-ana@example.com.eml"]
    assert ana["Subject"] == "Milestone review, June 2026: 2 due, 1 overdue, 1 coming up"
    body = text(ana)
    due, rest = body.split("DUE THIS MONTH", 1)[1].split("STILL OVERDUE", 1)
    assert "M1 Website: Done; due 2026-06-10, completed 2026-06-09, -1 days late" in due
    assert "Budget 1,000, actual 1,100, variance 100 (10%)" in due
    assert "Visitors: target 5,000, result 6,100" in due
    assert "M6 <script>alert(1)</script>: On track" in due
    overdue, rest = rest.split("COMING UP", 1)
    assert "M2 Seed round: due 2026-05-20, 26 days late" in overdue
    coming, questions = rest.split("FOR THE REVIEW MEETING", 1)
    assert "M3 Launch: due 2026-07-15" in coming
    for absent in ("M4 ", "M5 ", "History", "Later"):
        assert absent not in body
    for question in (
        "Are you on budget?",
        "On time?".lower(),
        "corrections?",
        "desired results?",
        "specific metrics?",
    ):
        assert question.lower() in questions.lower()
    assert "file:" not in body  # a path on the cron host opens for nobody else


def test_the_shared_link_of_the_plan_is_in_every_email(runner, plan, tmp_path):
    config = tmp_path / "milestone-sheets.toml"
    shared = "https://contoso.sharepoint.com/sites/plans/Plan.xlsx"
    config.write_text(config.read_text().replace("[review]\n", f'[review]\nlink = "{shared}"\n'))
    runner.invoke(main, ["review", "--as-of", AS_OF])
    for message in outbox(tmp_path).values():
        if message["To"].addresses[0].username != "ceo":
            assert shared in text(message) and f'href="{shared}"' in html(message)
    config.write_text(config.read_text().replace(shared, "file:///srv/plans/plan.xlsx"))
    assert runner.invoke(main, ["review", "--as-of", AS_OF]).exit_code == 2


def test_grouping_by_address_and_owner_name(runner, plan, tmp_path):
    runner.invoke(main, ["review", "--as-of", AS_OF])
    ben = outbox(tmp_path)["2026-06-review-ben@example.com.eml"]
    assert "M7 Pilot" in text(ben) and "M8 Pricing" in text(ben)  # M8 has no address: joins Ben
    cleo = outbox(tmp_path)["2026-06-review-cleo@example.com.eml"]
    assert cleo["Subject"] == "Milestone review, June 2026: 1 to fix"
    assert "Milestones!F10 M9 Broken: Due 'next friday' is not a date" in text(cleo)


def test_html_escapes_sheet_text_and_headers_stay_clean(runner, plan, tmp_path):
    runner.invoke(main, ["review", "--as-of", AS_OF])
    ana = outbox(tmp_path)["2026-06-review-ana@example.com.eml"]
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html(ana)
    assert "<script" not in html(ana)
    assert "<img" not in html(ana) and "http://" not in html(ana) and "<link" not in html(ana)
    mallory = outbox(tmp_path)["2026-06-review-mallory@example.com.eml"]
    assert mallory["Bcc"] is None
    assert mallory["To"].addresses[0].addr_spec == "mallory@example.com"
    assert len(mallory["To"].addresses) == 1
    raw = (tmp_path / "outbox" / "2026-06-review-mallory@example.com.eml").read_bytes()
    assert b"\nBcc:" not in raw


def test_non_ascii_names_are_encoded(runner, plan, tmp_path):
    runner.invoke(main, ["review", "--as-of", AS_OF])
    path = tmp_path / "outbox" / "2026-06-review-zoe@example.com.eml"
    raw = path.read_bytes()
    raw.decode("ascii")  # the wire form is 7-bit clean
    message = read(path)
    assert message["To"].addresses[0].display_name == "Zoë Ågren"
    assert "Hello Zoë Ågren" in text(message) and "M14 Café" in text(message)


def test_send_delivers_each_once_however_often_it_runs(runner, plan, tmp_path, smtp_server):
    add_smtp(tmp_path, smtp_server)
    result = runner.invoke(main, ["review", "--as-of", AS_OF, "--send"])
    assert result.exit_code == 1, result.output  # delivered; M9 is a data problem
    assert "Sent 8 emails for June 2026." in result.output
    recipients = smtp_server.recorder.recipients()
    assert sorted(recipients) == [
        "BEN@example.com", "ana@example.com", "ceo@example.com", "cleo@example.com", "dee@example.com",
        "dee@other.example", "mallory@example.com", "zoe@example.com",
    ]  # fmt: skip
    again = runner.invoke(main, ["review", "--as-of", AS_OF, "--send"])
    assert (
        "Sent 0 emails" in again.output
        and "Already sent for June 2026, not sent again: 8" in again.output
    )
    assert len(smtp_server.recorder.messages) == 8
    resend = runner.invoke(main, ["review", "--as-of", AS_OF, "--send", "--resend"])
    assert "Sent 8 emails" in resend.output
    assert len(smtp_server.recorder.messages) == 16
    ledger = tmp_path / ".milestone-sheets" / "sent.sqlite3"
    assert ledger.exists()


def test_send_needs_a_sender(runner, plan, tmp_path, smtp_server):
    (tmp_path / "milestone-sheets.toml").write_text(
        '[source]\nlocation = "plan.xlsx"\n' + smtp_server.config_text()
    )
    result = runner.invoke(main, ["review", "--as-of", AS_OF, "--send"])
    assert result.exit_code == 2 and "[review] from" in result.output
    assert smtp_server.recorder.messages == []


def test_starttls_and_auth_with_the_password_from_the_environment(
    runner, plan, tmp_path, tls_smtp_server, monkeypatch
):
    add_smtp(tmp_path, tls_smtp_server, security="starttls", username="plan@example.com")
    monkeypatch.setenv("MILESTONE_SHEETS_SMTP_PASSWORD", "wrong")
    denied = runner.invoke(main, ["review", "--as-of", AS_OF, "--send", "--owner", "Ana"])
    assert denied.exit_code == 3 and "refused the login" in denied.output
    assert "wrong" not in denied.output
    monkeypatch.setenv("MILESTONE_SHEETS_SMTP_PASSWORD", "s3cret-pw")
    result = runner.invoke(main, ["review", "--as-of", AS_OF, "--send", "--owner", "Ana"])
    assert result.exit_code == 1, result.output
    assert tls_smtp_server.recorder.recipients() == ["ana@example.com"]


def test_a_dropped_connection_then_the_resumed_run(runner, plan, tmp_path, smtp_server):
    add_smtp(tmp_path, smtp_server)
    smtp_server.recorder.drop_after = 3
    first = runner.invoke(main, ["review", "--as-of", AS_OF, "--send"])
    assert first.exit_code == 3
    assert "Sent 3 emails" in first.output
    assert "gave up after 3 tries" in first.output and "Sending stopped" in first.output
    delivered = smtp_server.recorder.recipients()
    assert len(delivered) == 3
    smtp_server.recorder.drop_after = None
    second = runner.invoke(main, ["review", "--as-of", AS_OF, "--send"])
    assert "Sent 5 emails" in second.output
    everyone = smtp_server.recorder.recipients()
    assert len(everyone) == 8 and len(set(everyone)) == 8  # nobody twice, nobody skipped


def test_a_permanent_failure_for_one_address(runner, plan, tmp_path, smtp_server):
    add_smtp(tmp_path, smtp_server)
    smtp_server.recorder.refuse["ben@example.com"] = "550 5.1.1 No such user"
    result = runner.invoke(main, ["review", "--as-of", AS_OF, "--send"])
    assert result.exit_code == 3
    assert "ben@example.com: 550 5.1.1 No such user" in result.output
    assert len(smtp_server.recorder.messages) == 7
    assert "ben@example.com" not in smtp_server.recorder.recipients()


def test_an_unreachable_server_is_exit_3(runner, plan, tmp_path):
    from conftest import free_port

    config = tmp_path / "milestone-sheets.toml"
    config.write_text(
        config.read_text()
        + f'[smtp]\nhost = "127.0.0.1"\nport = {free_port()}\nsecurity = "none"\ntimeout = 2\n'
    )
    result = runner.invoke(main, ["review", "--as-of", AS_OF, "--send"])
    assert result.exit_code == 3
    assert "cannot reach an SMTP server at 127.0.0.1" in result.output
    assert result.output.count("cannot reach") == 1 and 'security = "none"' in result.output


def test_a_thousand_owners(runner, tmp_path, monkeypatch, smtp_server):
    rows = [HEADER] + [row(f"M{i}", f"Milestone {i}", f"Owner {i}", f"owner{i}@example.com", date(2026, 6, 20))
                       for i in range(1000)]  # fmt: skip
    write_xlsx(tmp_path / "plan.xlsx", {"Milestones": rows})
    (tmp_path / "milestone-sheets.toml").write_text(
        '[source]\nlocation = "plan.xlsx"\n[review]\nfrom = "plan@example.com"\n'
        + smtp_server.config_text()
    )
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(main, ["review", "--as-of", AS_OF, "--send"])
    assert result.exit_code == 0, result.output[-500:]
    assert len(set(smtp_server.recorder.recipients())) == 1000


def test_user_templates_override_by_name(runner, plan, tmp_path):
    folder = tmp_path / "my-templates"
    folder.mkdir()
    (folder / "review.txt").write_text("Hi {{ name }}: {{ due_this_month|length }} due.\n")
    config = tmp_path / "milestone-sheets.toml"
    config.write_text(
        config.read_text().replace("[review]\n", '[review]\ntemplates = "my-templates"\n')
    )
    runner.invoke(main, ["review", "--as-of", AS_OF])
    ana = outbox(tmp_path)["2026-06-review-ana@example.com.eml"]
    assert text(ana) == "Hi Ana: 2 due.\n"
    assert "For the review meeting" in html(ana)  # the bundled HTML template still serves


def test_alerts_once_per_milestone_and_status(runner, plan, tmp_path, smtp_server):
    add_smtp(tmp_path, smtp_server)
    first = runner.invoke(main, ["sync", "--as-of", "2026-06-01", "--notify", "--send"])
    assert first.exit_code == 1, first.output
    # As of 06-01 only M2 (due 05-20) is overdue; Olga's domain is refused either way.
    first_alerts = smtp_server.recorder.recipients()
    assert first_alerts == ["ana@example.com"]
    subject = email.message_from_bytes(
        smtp_server.recorder.messages[0][1], policy=email.policy.default
    )["Subject"]
    assert subject == "Milestone overdue: Seed round"
    later = runner.invoke(main, ["sync", "--as-of", "2026-06-12", "--notify", "--send"])
    assert later.exit_code == 1
    # New: M11 (06-05), M12 (06-06), M13 (06-07), M1 stays Done; M2 stays Overdue: no second alert.
    assert sorted(smtp_server.recorder.recipients()[1:]) == ["dee@example.com", "dee@other.example"]
    again = runner.invoke(main, ["sync", "--as-of", "2026-06-12", "--notify", "--send"])
    assert len(smtp_server.recorder.recipients()) == 3
    assert "Up to date" in again.output


def test_alerts_go_to_the_outbox_without_send(runner, plan, tmp_path):
    result = runner.invoke(main, ["sync", "--as-of", "2026-06-01", "--notify"])
    assert "Wrote 1 email as alerts" in result.output
    (alert,) = outbox(tmp_path).values()
    assert "M2 Seed round is now Overdue" in text(alert)


def test_the_rate_limit_spaces_messages(tmp_path, smtp_server):
    from email.message import EmailMessage

    from milestone_sheets.config import SmtpConfig
    from milestone_sheets.mail.ledger import Ledger
    from milestone_sheets.mail.send import Outgoing, SmtpMailer, deliver

    def message(n):
        m = EmailMessage()
        m["From"], m["To"], m["Subject"], m["Message-ID"] = (
            "plan@example.com",
            f"p{n}@example.com",
            "x",
            f"<{n}@x>",
        )
        m.set_content("hello")
        return m

    import itertools
    import time

    waits, starts = [], []

    def sleep(seconds):
        waits.append(seconds)
        time.sleep(seconds)
        starts.append(time.monotonic())

    outgoing = [Outgoing("review", f"p{n}@example.com", "2026-06", message(n)) for n in range(4)]
    mailer = SmtpMailer(
        SmtpConfig(host="127.0.0.1", port=smtp_server.port, security="none", timeout=5), None
    )
    report = deliver(outgoing, Ledger(tmp_path), mailer, rate_per_minute=600, sleep=sleep)
    assert len(report.sent) == 4 and len(smtp_server.recorder.messages) == 4
    # 600 a minute: each message starts at least a tenth of a second after the one before
    # (however long sending took); the first goes at once.
    assert len(waits) == 4 and waits[0] == 0.0
    gaps = [later - earlier for earlier, later in itertools.pairwise(starts)]
    assert all(gap >= 0.1 for gap in gaps), gaps
