"""The sync: read a source, evaluate it, write the computed cells that changed."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import filelock

from milestone_sheets.errors import SheetChangedError, SourceError
from milestone_sheets.evaluate import Evaluation, Settings, evaluate
from milestone_sheets.sources.base import Source


@dataclass
class SyncResult:
    evaluation: Evaluation
    written: bool
    attempts: int


def read_and_evaluate(source: Source, settings: Settings, as_of: date) -> Evaluation:
    """Evaluate a source without writing anything (validate, status, review)."""
    return evaluate(source.read(), settings, as_of)


def sync(source: Source, settings: Settings, as_of: date, *, dry_run: bool = False) -> SyncResult:
    """Write what changed; if the source changes under us, read again, up to its limit."""
    attempts = getattr(source, "max_attempts", 2)
    for attempt in range(1, attempts + 1):
        book = source.read()
        evaluation = evaluate(book, settings, as_of)
        if dry_run or not evaluation.writes:
            return SyncResult(evaluation, False, attempt)
        try:
            # Only a live sheet needs the row keys checked again just before writing.
            guards = evaluation.guards if getattr(source, "needs_guards", False) else []
            evaluation.sheet_problems += source.write(book, evaluation.writes, guards)
        except SheetChangedError as err:
            if attempt == attempts:
                raise SheetChangedError(
                    f"{err}; gave up after {attempts} tries. Nothing was written."
                ) from None
            continue
        return SyncResult(evaluation, True, attempt)
    raise AssertionError("unreachable")


@contextmanager
def run_lock(state_dir: Path, location: str) -> Iterator[None]:
    """One sync per source at a time: a second cron run for the same sheet gives up at once."""
    locks = state_dir / "locks"
    locks.mkdir(parents=True, exist_ok=True)
    name = hashlib.sha256(location.encode()).hexdigest()[:16]
    lock = filelock.FileLock(str(locks / f"{name}.lock"), timeout=0)
    try:
        lock.acquire()
    except filelock.Timeout:
        raise SourceError(
            f"{location}: another milestone-sheets sync of this source is running; nothing was written"
        ) from None
    try:
        yield
    finally:
        lock.release()
