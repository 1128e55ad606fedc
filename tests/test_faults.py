"""What an unattended weekly job meets: concurrent runs, planted links, kills, odd
permissions, crashes, and mail servers that misbehave. Each test reproduces one case."""

from __future__ import annotations

import email
import email.policy
import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
import zipfile
from pathlib import Path

import openpyxl
import pytest
from conftest import Recorder, _start
from test_mail import AS_OF, PLAN, add_smtp, make_plan
from workbooks import write_xlsx

import milestone_sheets
from milestone_sheets.cli import main
from milestone_sheets.mail import ledger as ledger_module
from milestone_sheets.testing.generate import generate_plan

CLI = shutil.which("milestone-sheets", path=str(Path(sys.executable).parent))
needs_cli = pytest.mark.skipif(
    CLI is None, reason="the console script is not installed (pip install -e .)"
)
ROOT = os.geteuid() == 0


def temporaries(folder: Path) -> list[Path]:
    return [p for p in folder.iterdir() if p.suffix == ".tmp"]


def workbook_is_whole(path: Path) -> None:
    with zipfile.ZipFile(path) as package:
        assert package.testzip() is None
    openpyxl.load_workbook(path)


@pytest.fixture
def mail_plan(tmp_path, monkeypatch):
    """test_mail's plan and config, with an internationalised domain allowed too."""
    return make_plan(tmp_path, monkeypatch, ("example.com", "other.example", "exämple.com"))


def message_ids(recorder: Recorder) -> list[str]:
    return [
        email.message_from_bytes(raw, policy=email.policy.default)["Message-ID"]
        for _, raw in recorder.messages
    ]


# --- Files ------------------------------------------------------------------------------


@needs_cli
def test_two_syncs_under_two_configs_take_turns(tmp_path):
    """Two state folders, one workbook, many rounds at once: the workbook stays whole and
    no temporary file is left."""
    plan = generate_plan(tmp_path / "plan.xlsx", 2_000)
    configs = []
    for name in ("a", "b"):
        folder = tmp_path / name
        folder.mkdir()
        (folder / "milestone-sheets.toml").write_text(f'[review]\nstate = "{folder}/state"\n')
        configs.append(folder / "milestone-sheets.toml")
    outcomes = []
    for round_ in range(4):
        as_of = f"2026-06-{10 + round_}"
        children = [
            subprocess.Popen([CLI, "--config", str(config), "sync", str(plan), "--as-of", as_of],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            for config in configs
        ]  # fmt: skip
        for child in children:
            _, err = child.communicate(timeout=120)
            outcomes.append(child.returncode)
            assert child.returncode in (1, 3, 4), err.decode()
            if child.returncode == 3:
                assert b"another milestone-sheets sync of this source is running" in err
        workbook_is_whole(plan)
        assert not temporaries(tmp_path)
    assert 1 in outcomes


def test_a_planted_link_at_a_temporary_name_is_never_followed(runner, tmp_path, mail_plan):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    for name in (".plan.xlsx.milestone-sheets.tmp", ".report.html.tmp", ".plan.xlsx.tmp"):
        (tmp_path / name).symlink_to(victim)
    assert runner.invoke(main, ["sync", "--as-of", AS_OF]).exit_code == 1
    assert runner.invoke(main, ["report", "--as-of", AS_OF, "-o", "report.html"]).exit_code == 1
    assert victim.read_text() == "precious"
    assert "<html" in (tmp_path / "report.html").read_text()
    workbook_is_whole(mail_plan)


@needs_cli
def test_the_temporary_copy_has_the_workbooks_mode_and_sigterm_removes_it(tmp_path):
    plan = generate_plan(tmp_path / "plan.xlsx", 20_000)
    plan.chmod(0o600)
    original = plan.read_bytes()
    modes: set[int] = set()
    child = subprocess.Popen([CLI, "sync", str(plan), "--as-of", "2026-06-15"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    deadline = time.monotonic() + 60
    while child.poll() is None and time.monotonic() < deadline:
        found = temporaries(tmp_path)
        if found:
            try:
                modes.add(stat.S_IMODE(found[0].stat().st_mode))
            except FileNotFoundError:
                continue
            child.send_signal(signal.SIGTERM)
            break
        time.sleep(0.0005)
    child.wait(timeout=60)
    assert modes == {0o600}, "the temporary copy was seen with another mode (or not at all)"
    assert child.returncode == 128 + signal.SIGTERM
    assert not temporaries(tmp_path), "SIGTERM left the temporary copy"
    assert plan.read_bytes() == original


@pytest.mark.skipif(not ROOT, reason="changing a file's owner needs root; run the suite as root")
def test_owner_group_and_mode_survive_the_replace(runner, tmp_path, mail_plan):
    os.chown(mail_plan, 12345, 23456)
    mail_plan.chmod(0o640)
    assert runner.invoke(main, ["sync", "--as-of", AS_OF]).exit_code == 1
    after = mail_plan.stat()
    assert (after.st_uid, after.st_gid, stat.S_IMODE(after.st_mode)) == (12345, 23456, 0o640)


def test_extended_attributes_survive_the_replace(runner, tmp_path, mail_plan):
    try:
        os.setxattr(mail_plan, "user.project", b"apollo")
    except OSError as err:
        pytest.skip(f"this file system keeps no user extended attributes ({err.strerror})")
    assert runner.invoke(main, ["sync", "--as-of", AS_OF]).exit_code == 1
    assert os.getxattr(mail_plan, "user.project") == b"apollo"


def test_a_read_only_workbook_is_refused(runner, tmp_path, mail_plan):
    mail_plan.chmod(0o444)
    before = mail_plan.read_bytes()
    result = runner.invoke(main, ["sync", "--as-of", AS_OF])
    assert result.exit_code == 3
    assert "read-only" in result.output and "chmod u+w" in result.output
    assert mail_plan.read_bytes() == before


def test_state_outbox_and_report_are_private(runner, tmp_path, mail_plan, smtp_server):
    os.umask(0o022)
    add_smtp(tmp_path, smtp_server)
    assert runner.invoke(main, ["review", "--as-of", AS_OF]).exit_code == 1
    assert runner.invoke(main, ["review", "--as-of", AS_OF, "--send"]).exit_code == 1
    assert runner.invoke(main, ["sync", "--as-of", AS_OF]).exit_code == 1
    assert runner.invoke(main, ["report", "--as-of", AS_OF, "-o", "r.html"]).exit_code == 1
    state = tmp_path / ".milestone-sheets"
    folders = [state, state / "locks", tmp_path / "outbox"]
    files = [state / "sent.sqlite3", tmp_path / "r.html", *(tmp_path / "outbox").iterdir()]
    files += [p for p in state.iterdir() if p.is_file()]
    assert {stat.S_IMODE(p.stat().st_mode) for p in folders} == {0o700}
    assert {stat.S_IMODE(p.stat().st_mode) for p in files} == {0o600}, files


def test_csv_cells_that_look_like_formulas_are_neutralised(runner, tmp_path):
    rows = [["ID", "Milestone", "Owner", "Due"],
            ["M1", '=HYPERLINK("http://x.example","go")', "+Ana", "2026-07-01"],
            ["M2", "@SUM(A1)", "-Ben", "2026-07-02"]]  # fmt: skip
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Milestones"
    for r, values in enumerate(rows, start=1):
        for c, value in enumerate(values, start=1):
            sheet.cell(r, c).value = value
            sheet.cell(r, c).data_type = "s"  # text that only looks like a formula
    plan = tmp_path / "p.xlsx"
    book.save(plan)
    result = runner.invoke(main, ["status", str(plan), "--format", "csv", "--as-of", AS_OF])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert "'=HYPERLINK" in lines[1] and ",'+Ana," in lines[1]
    assert ",'@SUM(A1)," in lines[2] and ",'-Ben," in lines[2]
    # Numbers stay numbers: a negative variance is not text.
    assert not any(cell.startswith(("=", "+", "@")) for line in lines for cell in line.split(","))


# --- Exit codes and many sources ---------------------------------------------------------


def test_a_huge_budget_is_a_data_problem_named_by_its_cell(runner, tmp_path):
    rows = [["ID", "Milestone", "Owner", "Due", "Budget", "Actual"],
            ["M1", "Launch", "Ana", "2026-07-01", -1e308, 10],
            ["M2", "Pilot", "Ana", "2026-07-01", 100, 1e20],
            ["M3", "Fine", "Ana", "2026-07-01", 100, 50]]  # fmt: skip
    plan = write_xlsx(tmp_path / "p.xlsx", {"Milestones": rows})
    result = runner.invoke(main, ["sync", str(plan), "--as-of", AS_OF])
    assert result.exit_code == 1, result.output
    assert "Milestones!E2: Budget -1e+308 is too large" in result.output
    assert "Milestones!F3: Actual 1e+20 is too large" in result.output
    sheet = openpyxl.load_workbook(plan)["Milestones"]
    statuses = [sheet.cell(row, 7).value for row in (2, 3, 4)]
    assert statuses[0] == "Invalid" and statuses[2] == "On track"


def test_an_unexpected_error_has_its_own_exit_code_and_one_line(runner, tmp_path, monkeypatch):
    plan = write_xlsx(tmp_path / "p.xlsx", {"Milestones": PLAN})

    def broken(*_args, **_kwargs):
        raise PermissionError(13, "Permission denied", "/state")

    monkeypatch.setattr("milestone_sheets.app.plan_changes", broken)
    result = runner.invoke(main, ["sync", str(plan), "--as-of", AS_OF])
    assert result.exit_code == 5
    assert result.output.strip().splitlines()[-1].startswith("Unexpected error: PermissionError")
    assert "Traceback" not in result.output


def test_sync_all_goes_on_after_an_unexpected_error(runner, tmp_path, monkeypatch):
    for name in ("a", "b", "c"):
        write_xlsx(tmp_path / f"{name}.xlsx", {"Milestones": PLAN})
    config = tmp_path / "milestone-sheets.toml"
    config.write_text("".join(f'[[sources]]\nlocation = "{n}.xlsx"\n' for n in "abc"))
    from milestone_sheets.sources.excel import source as excel

    real_read = excel.ExcelSource.read

    def read(self):
        if self.path.name == "b.xlsx":
            raise OverflowError("math range error")
        return real_read(self)

    monkeypatch.setattr(excel.ExcelSource, "read", read)
    result = runner.invoke(main, ["--config", str(config), "sync", "--all", "--as-of", AS_OF])
    assert result.exit_code == 5, result.output
    assert "OverflowError" in result.output
    summary = [line for line in result.output.splitlines() if "exit" in line and ".xlsx" in line]
    assert [line.split()[0] for line in summary] == ["data", "failed", "data"]
    for name in ("a", "c"):
        assert openpyxl.load_workbook(tmp_path / f"{name}.xlsx")["Milestones"]["N1"].value


def test_the_cron_lines_report_failures_and_stay_quiet_otherwise(tmp_path):
    lines = [
        line.split(None, 5)[5]
        for line in (Path(__file__).parents[1] / "scripts" / "milestone-sheets.cron")
        .read_text()
        .splitlines()
        if line and not line.startswith(("#", "MAILTO"))
    ]
    fake = tmp_path / ".venv" / "bin" / "milestone-sheets"
    fake.parent.mkdir(parents=True)
    for code, loud in ((0, False), (1, False), (2, True), (5, True)):
        fake.write_text(f"#!/bin/sh\necho ran\nexit {code}\n")
        fake.chmod(0o755)
        for line in lines:
            command = line.replace("/srv/plans", str(tmp_path)).replace("\\%", "%")
            done = subprocess.run(["/bin/sh", "-c", command], capture_output=True, text=True)
            assert bool(done.stderr) == loud, (code, done.stderr)
            if loud:
                assert f"exit {code}" in done.stderr
    assert "ran" in (tmp_path / "sync.log").read_text()


# --- Mail ---------------------------------------------------------------------------------


def test_a_second_sender_meanwhile_sends_nothing(runner, tmp_path, mail_plan, smtp_server):
    import filelock

    add_smtp(tmp_path, smtp_server)
    state = tmp_path / ".milestone-sheets"
    (state / "locks").mkdir(parents=True)
    with filelock.FileLock(str(state / "locks" / "sending.lock")):
        result = runner.invoke(main, ["review", "--as-of", AS_OF, "--send"])
    assert result.exit_code == 3 and "another milestone-sheets run is sending" in result.output
    assert smtp_server.recorder.messages == []


@needs_cli
def test_two_review_sends_at_once_send_each_email_once(tmp_path, mail_plan):
    class Slow(Recorder):
        async def handle_DATA(self, server, session, envelope):
            time.sleep(0.05)
            return await super().handle_DATA(server, session, envelope)

    server = _start(Slow())
    try:
        add_smtp(tmp_path, server)
        children = [
            subprocess.Popen([CLI, "review", "--as-of", AS_OF, "--send"], cwd=tmp_path,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
            for _ in range(2)
        ]  # fmt: skip
        codes = [child.wait(timeout=120) for child in children]
        again = subprocess.run([CLI, "review", "--as-of", AS_OF, "--send"], cwd=tmp_path,
                               capture_output=True, text=True)  # fmt: skip
        assert sorted(codes) in ([1, 1], [1, 3]), codes
        assert again.returncode == 1 and "Sent 0 emails" in again.stdout
        recipients = server.recorder.recipients()
        assert len(recipients) == len(set(recipients)) > 5
    finally:
        server.controller.stop()


@needs_cli
def test_a_kill_between_acceptance_and_record_resends_one_message_with_its_id(tmp_path, mail_plan):
    """The server takes the third message and the sender dies before hearing so: the
    rerun sends that one again, with the same Message-ID, and nothing else twice."""
    children: list[subprocess.Popen[bytes]] = []

    class Killer(Recorder):
        async def handle_DATA(self, server, session, envelope):
            reply = await super().handle_DATA(server, session, envelope)
            if len(self.messages) == 3 and children:
                children[0].send_signal(signal.SIGKILL)
                children[0].wait()
            return reply

    server = _start(Killer())
    try:
        add_smtp(tmp_path, server)
        children.append(subprocess.Popen([CLI, "review", "--as-of", AS_OF, "--send"],
                                         cwd=tmp_path, stdout=subprocess.DEVNULL,
                                         stderr=subprocess.DEVNULL))  # fmt: skip
        children[0].wait(timeout=60)
        assert children[0].returncode == -signal.SIGKILL
        children.clear()
        rerun = subprocess.run([CLI, "review", "--as-of", AS_OF, "--send"], cwd=tmp_path,
                               capture_output=True, text=True)  # fmt: skip
        assert rerun.returncode == 1, rerun.stdout + rerun.stderr
        assert "sent again after an interrupted run (same Message-ID)" in rerun.stdout
        ids = message_ids(server.recorder)
        assert len(ids) == len(set(ids)) + 1
        twice = [i for i in set(ids) if ids.count(i) == 2]
        assert twice == [ids[2]]
    finally:
        server.controller.stop()


def test_a_ledger_that_cannot_be_written_stops_sending_at_once(
    runner, tmp_path, mail_plan, smtp_server, monkeypatch
):
    add_smtp(tmp_path, smtp_server)
    real = ledger_module.Ledger.sent_now
    calls = []

    def full_disk(self, *args):
        """The third record fails as a full disk would: SQLite refuses the write."""
        calls.append(args)
        if len(calls) != 3:
            return real(self, *args)
        self.db.execute("PRAGMA query_only = ON")
        try:
            return real(self, *args)
        finally:
            self.db.execute("PRAGMA query_only = OFF")

    monkeypatch.setattr(ledger_module.Ledger, "sent_now", full_disk)
    first = runner.invoke(main, ["review", "--as-of", AS_OF, "--send"])
    assert first.exit_code == 3, first.output
    assert "cannot record a message the server accepted" in first.output
    assert "Traceback" not in first.output
    assert len(smtp_server.recorder.messages) == 3  # stopped at once
    second = runner.invoke(main, ["review", "--as-of", AS_OF, "--send"])
    assert second.exit_code == 1, second.output
    ids = message_ids(smtp_server.recorder)
    assert len(ids) == len(set(ids)) + 1 and ids.count(ids[2]) == 2


@pytest.mark.parametrize("utf8", [False, True])
def test_a_non_ascii_address(runner, tmp_path, mail_plan, utf8):
    rows = [*PLAN, ["M17", "Fiesta", "José", "josé@exämple.com", None, "2026-06-20"]]
    write_xlsx(mail_plan, {"Milestones": rows})
    server = _start(Recorder(), enable_SMTPUTF8=utf8)
    try:
        add_smtp(tmp_path, server)
        result = runner.invoke(main, ["review", "--as-of", AS_OF, "--send"])
        recipients = server.recorder.recipients()
        assert "ana@example.com" in recipients  # the others go either way
        if utf8:
            assert result.exit_code == 1, result.output
            assert "josé@xn--exmple-cua.com" in recipients
            (raw,) = [raw for rcpts, raw in server.recorder.messages if rcpts[0].startswith("jos")]
            assert b"=?" not in raw.split(b"\n\n")[0].split(b"\nTo:")[1].split(b"\n")[0]
        else:
            assert result.exit_code == 3
            assert "does not offer SMTPUTF8" in result.output
            assert not any(r.startswith("jos") for r in recipients)
            assert "Sending stopped" not in result.output
    finally:
        server.controller.stop()


def test_a_port_that_is_not_smtp_fails_once_within_the_timeout(runner, tmp_path, mail_plan):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    accepted = []
    thread = threading.Thread(target=lambda: accepted.append(listener.accept()), daemon=True)
    thread.start()
    port = listener.getsockname()[1]
    config = tmp_path / "milestone-sheets.toml"
    config.write_text(
        config.read_text() + f'[smtp]\nhost = "127.0.0.1"\nport = {port}\nsecurity = "none"\n'
        "timeout = 1\n"
    )
    started = time.monotonic()
    result = runner.invoke(main, ["review", "--as-of", AS_OF, "--send"])
    elapsed = time.monotonic() - started
    listener.close()
    assert result.exit_code == 3
    assert result.output.count("cannot reach an SMTP server") == 1
    assert "security" in result.output
    assert elapsed < 10, "it waited far past the configured timeout"


def test_an_alert_not_delivered_is_still_due_next_run(runner, tmp_path, mail_plan, smtp_server):
    # First run: no mail server configured, so the alert goes to the outbox only.
    first = runner.invoke(main, ["sync", "--as-of", "2026-06-01", "--notify"])
    assert first.exit_code == 1 and "Wrote 1 email as alerts" in first.output
    add_smtp(tmp_path, smtp_server)
    # The sheet already shows Overdue; the ledger says nobody was told: it is sent now.
    second = runner.invoke(main, ["sync", "--as-of", "2026-06-01", "--notify", "--send"])
    assert second.exit_code == 1, second.output
    assert smtp_server.recorder.recipients() == ["ana@example.com"]
    third = runner.invoke(main, ["sync", "--as-of", "2026-06-01", "--notify", "--send"])
    assert third.exit_code == 1 and len(smtp_server.recorder.messages) == 1


def test_the_api_lock_is_the_workbooks(tmp_path):
    plan = write_xlsx(tmp_path / "p.xlsx", {"Milestones": PLAN})
    one = milestone_sheets.open_source(plan).lock_path(tmp_path / "state-a")
    two = milestone_sheets.open_source(plan).lock_path(tmp_path / "state-b")
    assert one == two and one.parent == plan.parent.resolve()
