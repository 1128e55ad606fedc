"""Writing files without losing or exposing anything: the one way this package writes.

Every file is written to a new temporary file in the target's folder, created exclusively
(never through a link someone planted) and with its final mode from the start, then moved
over the target with an atomic rename. A failure at any point, SIGTERM included (see
`cli`), removes the temporary file and leaves the target as it was.
"""

from __future__ import annotations

import errno
import os
import signal
import sqlite3
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from milestone_sheets.errors import SourceError

PRIVATE_FILE = 0o600
PRIVATE_FOLDER = 0o700


@contextmanager
def held_lock(path: Path, busy: str, mode: int = PRIVATE_FILE) -> Iterator[None]:
    """An exclusive lock file (filelock), taken at once or not at all: SourceError with
    `busy` when another run holds it, or when it cannot be taken."""
    import filelock  # only a sync or a send needs it (and it costs start-up time)

    lock = filelock.FileLock(str(path), timeout=0, mode=mode)
    try:
        lock.acquire()
    except filelock.Timeout:
        raise SourceError(f"{busy} (it holds {path})") from None
    except OSError as err:
        raise SourceError(f"cannot take the lock {path}: {err}") from None
    try:
        yield
    finally:
        lock.release()


def private_folder(path: Path) -> Path:
    """A folder only its user can read (state, outbox), created if missing (with any
    missing folder above it, private too)."""
    if not path.parent.exists():
        private_folder(path.parent)
    path.mkdir(exist_ok=True, mode=PRIVATE_FOLDER)
    return path


@contextmanager
def temporary_beside(path: Path, mode: int = PRIVATE_FILE) -> Iterator[tuple[Path, BinaryIO]]:
    """A new, uniquely named file in `path`'s folder with `mode` from its first byte;
    removed unless `replace` moved it into place."""
    temp: Path | None = None
    try:
        with _termination_deferred():  # SIGTERM comes once the file has a name to remove
            descriptor, name = tempfile.mkstemp(
                prefix=f".{path.name}.", suffix=".tmp", dir=path.parent
            )
            temp = Path(name)
        os.fchmod(descriptor, mode)
        with os.fdopen(descriptor, "wb") as stream:
            yield temp, stream
    finally:
        if temp is not None:
            temp.unlink(missing_ok=True)


@contextmanager
def _termination_deferred() -> Iterator[None]:
    """SIGTERM held back until the block ends (where the system can hold signals), so
    that the error it raises (see `cli`) cannot fall between a file's creation and the
    code that removes it."""
    if not hasattr(signal, "pthread_sigmask"):
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def keep_owner(stream: BinaryIO, original: os.stat_result, source: Path) -> None:
    """Give a replacement file the original's owner and group (where this user may) and
    its extended attributes (ACLs, security labels, user attributes)."""
    descriptor = stream.fileno()
    for uid, gid in ((original.st_uid, original.st_gid), (-1, original.st_gid)):
        try:
            os.fchown(descriptor, uid, gid)
            break
        except PermissionError:
            continue
    try:
        names = os.listxattr(source)
    except OSError:  # no extended attributes on this file system
        return
    for name in names:
        try:
            os.setxattr(descriptor, name, os.getxattr(source, name))
        except OSError as err:
            if err.errno not in (errno.EPERM, errno.ENOTSUP, errno.EACCES):
                raise


def replace(temp: Path, path: Path, stream: BinaryIO) -> None:
    """Make the finished temporary file durable, then atomically put it in place."""
    stream.flush()
    os.fsync(stream.fileno())
    os.replace(temp, path)
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def write_atomically(path: Path, data: bytes, mode: int = PRIVATE_FILE) -> None:
    """Write a whole file or nothing, private to the user unless `mode` says otherwise."""
    with temporary_beside(path, mode) as (temp, stream):
        stream.write(data)
        replace(temp, path, stream)


def open_database(path: Path, schema: str, version: int = 1) -> sqlite3.Connection:
    """A SQLite database in a private folder, created private (0600, never through a
    link) before SQLite opens it, so that its journal files take that mode; WAL, each
    commit durable. The `schema` (CREATE ... IF NOT EXISTS) runs only while the store's
    user_version is not `version`, then sets it: opening a store writes nothing.
    Raises sqlite3.Error or OSError for the caller to name."""
    private_folder(path.parent)
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW, PRIVATE_FILE))
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    if db.execute("PRAGMA user_version").fetchone()[0] != version:
        db.executescript(f"BEGIN IMMEDIATE; {schema}; PRAGMA user_version = {version}; COMMIT;")
    return db


def timestamp() -> str:
    """Now, as a record in a store has it: UTC, ISO 8601, to the second."""
    return datetime.now(UTC).isoformat(timespec="seconds")
