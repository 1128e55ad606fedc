"""A sync killed at any moment leaves the old workbook or the new one, never a broken one."""

from __future__ import annotations

import hashlib
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from milestone_sheets.testing.generate import generate_plan

CLI = shutil.which("milestone-sheets", path=str(Path(sys.executable).parent))


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.skipif(CLI is None, reason="the console script is not installed (pip install -e .)")
def test_killing_the_sync_mid_write_never_leaves_a_broken_file(tmp_path):
    original = generate_plan(tmp_path / "original.xlsx", 3_000)
    kill_at_every_step(tmp_path, [str(CLI)], original, "2026-06-15")


def kill_at_every_step(tmp_path: Path, cli: list[str], original: Path, as_of: str) -> None:
    """Kill a sync of a copy of `original` at six moments and once mid-write: each leaves
    the old file or the new one, and a sync after it finishes the job."""
    # What a finished sync produces (deterministic for a fixed --as-of).
    finished = tmp_path / "finished.xlsx"
    shutil.copy(original, finished)
    started = time.perf_counter()
    done = subprocess.run([*cli, "sync", str(finished), "--as-of", as_of], capture_output=True)
    duration = time.perf_counter() - started
    assert done.returncode == 1, done.stderr  # the generated plan has some bad rows
    old, new = digest(original), digest(finished)
    assert old != new

    outcomes = set()
    work = tmp_path / "plan.xlsx"
    steps = 6
    for step in range(1, steps + 2):
        shutil.copy(original, work)
        child = subprocess.Popen([*cli, "sync", str(work), "--as-of", as_of],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
        if step <= steps:
            time.sleep(duration * 1.4 * step / steps)  # from early in the read to past the end
        else:
            # Last, a kill that surely lands mid-write: as soon as the new file appears.
            deadline = time.monotonic() + duration * 5
            while (
                not _temporaries(tmp_path) and time.monotonic() < deadline and child.poll() is None
            ):
                time.sleep(0.001)
        child.send_signal(signal.SIGKILL)
        child.wait()
        state = digest(work)
        assert state in (old, new), f"kill at step {step} of the run left a broken workbook"
        outcomes.add("old" if state == old else "new")
        if _temporaries(tmp_path):
            outcomes.add("killed while writing")
        # The next run finishes the job and clears any temporary file the kill left.
        again = subprocess.run([*cli, "sync", str(work), "--as-of", as_of], capture_output=True)
        assert again.returncode == 1
        assert digest(work) == new
        # A kill -9 leaves its temporary file; the next sync, holding the lock, removes it.
        assert not _temporaries(tmp_path)
    # Some kill landed while the new file was being written (its temporary file was left).
    assert "killed while writing" in outcomes, outcomes


def _temporaries(folder: Path) -> list[Path]:
    """The sync's temporary copies in a folder (`.plan.xlsx.<random>.tmp`)."""
    return [p for p in folder.iterdir() if p.name.startswith(".plan.xlsx.") and p.suffix == ".tmp"]
