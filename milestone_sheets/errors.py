"""One exception hierarchy; each carries the exit code the spec gives it."""

from __future__ import annotations


class MilestoneSheetsError(Exception):
    """Base of every error the tool reports to a user."""

    exit_code = 1


class ConfigError(MilestoneSheetsError):
    """A bad configuration file or a bad command-line value (exit 2)."""

    exit_code = 2


class SourceError(MilestoneSheetsError):
    """The source cannot be read or written: missing, locked, denied (exit 3)."""

    exit_code = 3


class SheetChangedError(MilestoneSheetsError):
    """The sheet changed under the sync and retries gave up (exit 4)."""

    exit_code = 4


class StructureError(MilestoneSheetsError):
    """The source holds no usable milestone table (exit 2: wrong source)."""

    exit_code = 2


# The exit code of an error the tool did not foresee (a bug, or a machine problem such
# as a full disk), so that cron and systemd never count one as a run that went well or
# one that only found data problems.
UNEXPECTED_EXIT_CODE = 5


class UnexpectedError(MilestoneSheetsError):
    """An error the tool did not foresee, caught where one source must not stop the
    others (`sync --all`); `cause` is the original exception (exit 5)."""

    exit_code = UNEXPECTED_EXIT_CODE

    def __init__(self, cause: BaseException):
        super().__init__(f"unexpected error: {type(cause).__name__}: {cause}")
        self.cause = cause
