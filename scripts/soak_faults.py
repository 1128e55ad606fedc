#!/usr/bin/env python3
"""A bounded soak of the two jobs cron runs, killed with SIGKILL at random moments.

Run by hand from a checkout with the test extras installed (it takes a few minutes):

    python scripts/soak_faults.py [--kills 50] [--rows 5000] [--seed 1]

1. sync: half of the kills land at random points of `sync` on a copy of a generated plan
   (a new sync under a second config runs beside it); after each kill the workbook must be
   the old file or the new one, and the next sync must finish the job and leave no
   temporary file.
2. review --send: the other half land at random points of `review --send` against a slow
   local SMTP server (aiosmtpd, 20 ms a message); after each kill the run is repeated
   until it completes. At the end every email must have arrived, and an email that
   arrived twice must carry the same Message-ID both times (at most one per kill).

It prints what it saw and exits 1 if any check failed.
"""

from __future__ import annotations

import argparse
import collections
import email
import email.policy
import hashlib
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from aiosmtpd.controller import Controller

CLI = shutil.which("milestone-sheets", path=str(Path(sys.executable).parent)) or "milestone-sheets"
AS_OF = "2026-06-15"


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([CLI, *args], cwd=cwd, capture_output=True, text=True)


def kill_at(args: list[str], delay: float, cwd: Path | None = None) -> None:
    child = subprocess.Popen([CLI, *args], cwd=cwd, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)  # fmt: skip
    time.sleep(delay)
    child.send_signal(signal.SIGKILL)
    child.wait()


def soak_sync(folder: Path, kills: int, rows: int, rng: random.Random) -> list[str]:
    from milestone_sheets.testing.generate import generate_plan

    failures = []
    original = generate_plan(folder / "original.xlsx", rows)
    work = folder / "plan.xlsx"
    shutil.copy(original, work)
    started = time.perf_counter()
    run("sync", str(work), "--as-of", AS_OF)
    duration = time.perf_counter() - started
    old, new = digest(original), digest(work)
    other = folder / "other"
    other.mkdir()
    (other / "milestone-sheets.toml").write_text(f'[review]\nstate = "{other}/state"\n')
    outcomes: collections.Counter[str] = collections.Counter()
    for kill in range(kills):
        shutil.copy(original, work)
        beside = subprocess.Popen(
            [CLI, "--config", str(other / "milestone-sheets.toml"), "sync", str(work), "--as-of", AS_OF],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        kill_at(["sync", str(work), "--as-of", AS_OF], rng.uniform(0, duration * 1.3))
        beside.wait()
        state = digest(work)
        if state not in (old, new):
            failures.append(f"sync kill {kill}: the workbook is neither the old nor the new one")
        outcomes["old" if state == old else "new" if state == new else "broken"] += 1
        if list(folder.glob(".plan.xlsx.*.tmp")):
            outcomes["temporary file left by the kill"] += 1
        again = run("sync", str(work), "--as-of", AS_OF)
        if again.returncode != 1 or digest(work) != new:
            failures.append(f"sync kill {kill}: the next sync did not finish the job")
        if list(folder.glob(".plan.xlsx.*.tmp")):
            failures.append(f"sync kill {kill}: a temporary file is still there")
    print(f"sync: {kills} kills, {duration:.2f} s a sync; after each kill: {dict(outcomes)}")
    return failures


class Slow:
    def __init__(self) -> None:
        self.messages: list[bytes] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: ANN001
        time.sleep(0.02)
        self.messages.append(envelope.content)
        return "250 OK"


def soak_review(folder: Path, kills: int, rng: random.Random) -> list[str]:
    from milestone_sheets.testing.generate import generate_plan

    failures = []
    generate_plan(folder / "plan.xlsx", 300)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    handler = Slow()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        config = (
            '[source]\nlocation = "plan.xlsx"\n[review]\nfrom = "Plans <plans@example.com>"\n'
            f'[smtp]\nhost = "127.0.0.1"\nport = {port}\nsecurity = "none"\ntimeout = 5\n'
        )
        (folder / "milestone-sheets.toml").write_text(config)
        months = [f"2026-{m:02d}" for m in range(1, 13)]
        for kill in range(kills):
            month = months[kill % len(months)]
            kill_at(["review", "--month", month, "--send", "--as-of", AS_OF],
                    rng.uniform(0.2, 1.5), cwd=folder)  # fmt: skip
            for _ in range(3):
                done = run("review", "--month", month, "--send", "--as-of", AS_OF, cwd=folder)
                if done.returncode in (0, 1):
                    break
            else:
                failures.append(f"review kill {kill}: the rerun did not complete: {done.stderr}")
        expected = {}
        for month in months:  # what each month should have delivered
            listed = run(
                "review",
                "--month",
                month,
                "--as-of",
                AS_OF,
                "--outbox",
                str(folder / "o" / month),
                cwd=folder,
            )
            assert listed.returncode in (0, 1), listed.stderr
            expected[month] = len(list((folder / "o" / month).glob("*.eml")))
    finally:
        controller.stop()
    by_id: collections.Counter[str] = collections.Counter()
    keys: dict[str, set[str]] = collections.defaultdict(set)
    for raw in handler.messages:
        message = email.message_from_bytes(raw, policy=email.policy.default)
        by_id[message["Message-ID"]] += 1
        keys[(message["Subject"] or "") + "|" + (message["To"] or "")].add(message["Message-ID"])
    twice = sum(count - 1 for count in by_id.values() if count > 1)
    distinct_mail = sum(1 for ids in keys.values() if len(ids) > 1)
    wanted = sum(expected[m] for m in months[: min(kills, len(months))])
    print(f"review --send: {kills} kills, {len(handler.messages)} messages received, "
          f"{len(by_id)} distinct Message-IDs (expected {wanted}), {twice} sent twice with the same ID")  # fmt: skip
    if len(by_id) != wanted:
        failures.append(f"review: {len(by_id)} distinct messages arrived, {wanted} expected")
    if distinct_mail:
        failures.append(f"review: {distinct_mail} emails arrived twice with different Message-IDs")
    if twice > kills:
        failures.append(f"review: {twice} duplicates for {kills} kills")
    return failures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--kills", type=int, default=50)
    parser.add_argument("--rows", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=1)
    options = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    rng = random.Random(options.seed)
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        (root / "sync").mkdir()
        (root / "review").mkdir()
        failures = soak_sync(root / "sync", options.kills // 2, options.rows, rng)
        failures += soak_review(root / "review", options.kills - options.kills // 2, rng)
    for failure in failures:
        print("FAILED:", failure)
    print("all checks passed" if not failures else f"{len(failures)} checks failed")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
