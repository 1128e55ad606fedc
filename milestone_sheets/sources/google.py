"""Google Sheets through gspread and google-auth, in a constant number of requests.

A sync makes one spreadsheets.get (metadata), one values.batchGet (every table at once),
one values.batchGet just before writing (FORMULA render over the key and computed
columns: did rows move? does a computed cell hold a formula?), at most one
spreadsheets.batchUpdate (to widen the grid for new columns) and one values.batchUpdate
(only the changed cells, RAW, in as few ranges as they allow).
"""

from __future__ import annotations

import re
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
from gspread.exceptions import APIError
from gspread.http_client import HTTPClient

from milestone_sheets.changes import CellWrite, RowGuard
from milestone_sheets.config import Config, is_loopback
from milestone_sheets.domain.grid import SheetGrid, column_letter
from milestone_sheets.errors import SheetChangedError, SourceError

GOOGLE_API = "https://sheets.googleapis.com"
SCOPES = ("https://www.googleapis.com/auth/spreadsheets",)
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
_URL = re.compile(
    r"^https://docs\.google\.com/spreadsheets/d/([A-Za-z0-9_-]+)(?:/[^#]*)?(?:#(?:.*&)?gid=(\d+))?"
)
GAP_ROWS = 50  # changed rows closer than this share one written range


@dataclass(frozen=True)
class SheetRef:
    key: str
    gid: int | None = None


def parse_location(location: str) -> SheetRef | None:
    """`https://docs.google.com/spreadsheets/d/KEY/edit#gid=N` or `gsheet:KEY`; else None."""
    if location.startswith("gsheet:"):
        key = location[len("gsheet:") :].strip()
        return SheetRef(key) if re.fullmatch(r"[A-Za-z0-9_-]+", key) else None
    match = _URL.match(location)
    if match:
        return SheetRef(match.group(1), int(match.group(2)) if match.group(2) else None)
    return None


class RetryingHTTPClient(HTTPClient):
    """gspread's HTTP client, pointed at an endpoint, retrying 429 and 5xx a bounded number
    of times within a bounded total time (gspread's own back-off client retries a
    persistent 429 forever, which would hang a cron job)."""

    base = GOOGLE_API
    waits: Sequence[float] = (1.0, 2.0, 4.0, 8.0, 16.0)
    max_total = 60.0
    sleep = staticmethod(time.sleep)

    def request(self, method: str, endpoint: str, *args: Any, **kwargs: Any) -> requests.Response:
        if endpoint.startswith(GOOGLE_API) and self.base != GOOGLE_API:
            endpoint = self.base + endpoint[len(GOOGLE_API) :]
        started = time.monotonic()
        for attempt in range(len(self.waits) + 1):
            try:
                return super().request(method, endpoint, *args, **kwargs)
            except APIError as err:
                status = err.response.status_code
                out_of_time = (
                    time.monotonic() - started + self.waits[min(attempt, len(self.waits) - 1)]
                    > self.max_total
                )
                if status not in RETRY_STATUSES or attempt == len(self.waits) or out_of_time:
                    raise
                self.sleep(self.waits[attempt])
            except requests.RequestException as err:
                raise SourceError(
                    f"cannot reach the Sheets API at {self.base}: {err}. Check the network "
                    "(and a proxy, if you use one); nothing was written."
                ) from None
        raise AssertionError("unreachable")


SCOPE_COMMAND = (
    "gcloud auth application-default login --scopes="
    "https://www.googleapis.com/auth/spreadsheets,https://www.googleapis.com/auth/cloud-platform"
)


def make_http_client(config: Config) -> tuple[HTTPClient, str | None]:
    """The HTTP client and, for a service account, its email address (for messages).

    Every request, the token refresh included, gives up after `[google] timeout` seconds.
    """
    endpoint = config.google.endpoint
    client_class = type("Client", (RetryingHTTPClient,), {"base": endpoint})
    if is_loopback(endpoint):
        # A local Sheets-compatible server (the emulator): no credentials to send, but a
        # configured key file still names the account in messages.
        email = load_credentials(config)[1] if config.google.credentials else None
        client = client_class(None, session=requests.Session())  # type: ignore[arg-type]
    else:
        from google.auth.transport.requests import AuthorizedSession

        credentials, email = load_credentials(config)
        session = AuthorizedSession(credentials, refresh_timeout=config.google.timeout)
        client = client_class(credentials, session=session)
    client.set_timeout(config.google.timeout)
    return client, email


def load_credentials(config: Config) -> tuple[Any, str | None]:
    """Credentials the way google-auth finds them: the file in [google] credentials (a
    service account key, an authorized user, or a workload identity federation
    configuration), else Application Default Credentials (GOOGLE_APPLICATION_CREDENTIALS,
    then gcloud's). With the service account's email, if there is one."""
    import google.auth
    from google.auth.exceptions import DefaultCredentialsError, GoogleAuthError

    path = config.google.credentials
    try:
        if path:
            if not Path(path).is_file():
                raise SourceError(f"{path}: credentials file not found ([google] credentials)")
            with warnings.catch_warnings():
                # google-auth warns that a file from an untrusted source could name any
                # credential type; this one is the operator's own, named in their config.
                warnings.simplefilter("ignore", DeprecationWarning)
                credentials, _ = google.auth.load_credentials_from_file(str(path), scopes=SCOPES)
        else:
            credentials, _ = google.auth.default(scopes=SCOPES)
    except DefaultCredentialsError as err:
        where = f"{path}: " if path else ""
        # The message names the problem, never the file's contents (they hold a key).
        reason = str(err).split(". ")[0] if path else "no Google credentials found"
        raise SourceError(
            f"{where}{reason}. Set [google] credentials to a service account key file (or "
            f"GOOGLE_APPLICATION_CREDENTIALS), or sign in with `{SCOPE_COMMAND}`"
        ) from None
    except GoogleAuthError as err:  # a loader that reaches out (federation) and fails
        raise SourceError(
            f"{path or 'Application Default Credentials'}: cannot load the Google credentials "
            f"({_auth_reason(err)})"
        ) from None
    return credentials, getattr(credentials, "service_account_email", None)


def _range(title: str, cells: str = "") -> str:
    quoted = "'" + title.replace("'", "''") + "'"
    return f"{quoted}!{cells}" if cells else quoted


@dataclass
class GoogleBook:
    """A snapshot of a spreadsheet: its worksheets' metadata and, once read, their values."""

    source: GoogleSource
    metadata: dict[str, Any]
    preferred_title: str | None = None
    _grids: dict[str, SheetGrid] = field(default_factory=dict)

    @property
    def sheets(self) -> dict[str, dict[str, Any]]:
        return {s["properties"]["title"]: s["properties"] for s in self.metadata.get("sheets", [])}

    @property
    def titles(self) -> list[str]:
        return list(self.sheets)

    def grids(self, titles: Sequence[str]) -> dict[str, SheetGrid]:
        missing = [title for title in titles if title not in self._grids]
        if missing:
            ranges = [_range(title) for title in missing]
            params = {
                "valueRenderOption": "UNFORMATTED_VALUE",
                "dateTimeRenderOption": "SERIAL_NUMBER",
            }
            response = self.source.call(
                self.source.http.values_batch_get, self.source.ref.key, ranges, params
            )
            merges = {s["properties"]["title"]: s.get("merges", [])
                      for s in self.metadata.get("sheets", [])}  # fmt: skip
            for title, value_range in zip(missing, response.get("valueRanges", []), strict=True):
                merged = tuple(
                    (m.get("startRowIndex", 0), m.get("startColumnIndex", 0),
                     m["endRowIndex"] - 1, m["endColumnIndex"] - 1)
                    for m in merges.get(title, []) if "endRowIndex" in m and "endColumnIndex" in m
                )  # fmt: skip
                self._grids[title] = SheetGrid(title, value_range.get("values", []), merged=merged)
        return {title: self._grids[title] for title in titles}

    def write(self, writes: Sequence[CellWrite], guards: Sequence[RowGuard]) -> list[str]:
        return self.source.write(self, writes, guards)


class GoogleSource:
    """A Google Sheet, as the Source interface wants it."""

    max_attempts = 3  # a sheet edited while we sync: read and compute again, twice

    def __init__(self, location: str, config: Config, http: HTTPClient | None = None):
        ref = parse_location(location)
        if ref is None:
            raise SourceError(f"{location}: not a Google Sheets URL or gsheet:KEY")
        self.ref = ref
        self.location = location
        self.service_email: str | None = None
        if http is None:
            http, self.service_email = make_http_client(config)
        self.http = http
        self.sheet_ids: dict[str, int] = {}

    def lock_path(self, state_dir: Path) -> Path:
        """In the state folder, one per spreadsheet (the service keeps its own revisions)."""
        return state_dir / "locks" / f"gsheet-{self.ref.key}.lock"

    def recover(self) -> None:
        """Nothing to tidy: a write to the API is one request."""

    def call(self, function: Any, *args: Any) -> Any:
        """One API call, its errors turned into the tool's own (exit 3)."""
        from google.auth import exceptions as auth_errors

        try:
            return function(*args)
        except auth_errors.RefreshError as err:
            raise SourceError(
                f"Google refused the credentials ({_auth_reason(err)}): the key may be revoked "
                "or deleted, the account disabled, or this machine's clock wrong. Make a new "
                f"key, or sign in again with `{SCOPE_COMMAND}`. Nothing was written."
            ) from None
        except auth_errors.TransportError as err:
            raise SourceError(
                f"cannot reach Google to get an access token ({_auth_reason(err)}): check the "
                "network. Nothing was written."
            ) from None
        except APIError as err:
            status = err.response.status_code
            if status == 403:
                raise SourceError(self._denied(err)) from None
            if status == 404:
                raise SourceError(
                    f"spreadsheet {self.ref.key} not found (check the URL or key)"
                ) from None
            if status == 429:
                raise SourceError(
                    f"Google Sheets API quota exhausted for spreadsheet {self.ref.key} after retries; "
                    "nothing was written. Try again in a few minutes."
                ) from None
            raise SourceError(
                f"Google Sheets API error {status} on {self.ref.key}: {_message(err)}"
            ) from None

    def _denied(self, err: APIError) -> str:
        """What a 403 means: its reason decides the fix (sharing fixes only one)."""
        reasons = _reasons(err)
        if "ACCESS_TOKEN_SCOPE_INSUFFICIENT" in reasons:
            return (
                "the credentials were granted without the Google Sheets scope "
                f"(ACCESS_TOKEN_SCOPE_INSUFFICIENT): sign in again with `{SCOPE_COMMAND}`, "
                "or use a service account key file"
            )
        if "SERVICE_DISABLED" in reasons:
            return (
                "the Google Sheets API is not enabled for the credentials' Cloud project "
                f"(SERVICE_DISABLED): enable it in the console ({_message(err)})"
            )
        who = (
            f" with {self.service_email}"
            if self.service_email
            else " with the account milestone-sheets uses"
        )
        return (
            f"access denied to spreadsheet {self.ref.key}: share it{who} "
            "(as Editor, so that sync can write)"
        )

    def read(self) -> GoogleBook:
        metadata = self.call(self.http.fetch_sheet_metadata, self.ref.key)
        book = GoogleBook(self, metadata)
        self.sheet_ids = {title: props["sheetId"] for title, props in book.sheets.items()}
        if self.ref.gid is not None:
            titles = [t for t, sheet_id in self.sheet_ids.items() if sheet_id == self.ref.gid]
            if not titles:
                raise SourceError(
                    f"spreadsheet {self.ref.key} has no worksheet with gid {self.ref.gid}"
                )
            book.preferred_title = titles[0]
        return book

    def link(self, sheet: str, row: int, col: int = 0) -> str:
        gid = self.sheet_ids.get(sheet, 0)
        return f"https://docs.google.com/spreadsheets/d/{self.ref.key}/edit#gid={gid}&range={column_letter(col)}{row + 1}"

    def write(
        self, book: GoogleBook, writes: Sequence[CellWrite], guards: Sequence[RowGuard]
    ) -> list[str]:
        """Check the rows did not move and skip formula cells, then write; the skipped cells."""
        if not writes:
            return []
        blocked_cells = self._recheck(guards)
        blocked = [
            f"{sheet}!{column_letter(col)}{row + 1}" for sheet, row, col in sorted(blocked_cells)
        ]
        kept = [w for w in writes if (w.sheet, w.row, w.col) not in blocked_cells]
        self._widen(book, kept)
        data = [
            {"range": _range(sheet, cells), "values": values}
            for sheet, cells, values in group_ranges(kept)
        ]
        if data:
            self.call(
                self.http.values_batch_update,
                self.ref.key,
                {"valueInputOption": "RAW", "data": data},
            )
        return [
            f"{cell}: the computed cell holds a formula; it was not overwritten "
            "(clear it to let milestone-sheets fill it)"
            for cell in blocked
        ]

    def _recheck(self, guards: Sequence[RowGuard]) -> set[tuple[str, int, int]]:
        """One FORMULA read of the key and computed columns; raise if a key moved."""
        ranges, plan = [], []
        for guard in guards:
            first = guard.first_row + 1
            for col in (guard.key_col, *guard.computed_cols):
                letter = column_letter(col)
                ranges.append(_range(guard.sheet, f"{letter}{first}:{letter}"))
                plan.append((guard, col))
        if not ranges:
            return set()
        params = {
            "valueRenderOption": "FORMULA",
            "dateTimeRenderOption": "SERIAL_NUMBER",
            "majorDimension": "COLUMNS",
        }
        response = self.call(self.http.values_batch_get, self.ref.key, ranges, params)
        blocked: set[tuple[str, int, int]] = set()
        for (guard, col), value_range in zip(plan, response.get("valueRanges", []), strict=True):
            column = (value_range.get("values") or [[]])[0]
            now = {guard.first_row + i: value for i, value in enumerate(column)}
            if col == guard.key_col:
                for row, key in guard.keys.items():
                    value = now.get(row)
                    if isinstance(value, str) and value.startswith("="):
                        continue  # a key made by a formula shows as its formula here
                    if _key_text(value) != _key_text(key):
                        raise SheetChangedError(
                            f"{guard.sheet}: rows moved while syncing (row {row + 1} held "
                            f"{_key_text(key)!r}, now {_key_text(now.get(row))!r})"
                        )
            else:
                blocked |= {(guard.sheet, row, col) for row, value in now.items()
                            if isinstance(value, str) and value.startswith("=")}  # fmt: skip
        return blocked

    def _widen(self, book: GoogleBook, writes: Sequence[CellWrite]) -> None:
        """Grow the grid first where new columns lie past its last column: to a column
        count, not by one, so that a retried request cannot widen it twice; and give each
        new computed column its number format, in the same batch."""
        requests_: list[dict[str, Any]] = []
        for title, props in book.sheets.items():
            needed = max((w.col + 1 for w in writes if w.sheet == title), default=0)
            have = props.get("gridProperties", {}).get("columnCount", 26)
            if needed > have:
                grid = {"sheetId": props["sheetId"], "gridProperties": {"columnCount": needed}}
                requests_.append({"updateSheetProperties": {
                    "properties": grid, "fields": "gridProperties.columnCount"}})  # fmt: skip
        requests_ += self._number_formats(book, writes)
        if requests_:
            self.call(self.http.batch_update, self.ref.key, {"requests": requests_})

    def _number_formats(self, book: GoogleBook, writes: Sequence[CellWrite]) -> list[Any]:
        """repeatCell requests giving each computed column added now (its header is
        written) its number format, from its first data row to the grid's end; the
        variance takes the Budget cell's own format, read back for it."""
        added = {(w.sheet, w.col): w.row for w in writes if w.style_like is not None}
        wanted: dict[tuple[str, int], tuple[int, str | int]] = {}
        for w in writes:
            header = added.get((w.sheet, w.col))
            if header is not None and w.row > header and w.number_format is not None:
                wanted.setdefault((w.sheet, w.col), (w.row, w.number_format))
        requests_ = []
        for (title, col), (row, fmt) in sorted(wanted.items()):
            props = book.sheets[title]
            number: dict[str, Any] | None = {"type": "NUMBER", "pattern": fmt}
            if isinstance(fmt, int):  # the format of the Budget cell in that row
                number = self._number_format_of(title, row, fmt)
            if number is None:
                continue
            rows = props.get("gridProperties", {}).get("rowCount", 1000)
            area = {"sheetId": props["sheetId"], "startRowIndex": added[(title, col)] + 1,
                    "endRowIndex": max(rows, row + 1), "startColumnIndex": col,
                    "endColumnIndex": col + 1}  # fmt: skip
            requests_.append({"repeatCell": {
                "range": area, "cell": {"userEnteredFormat": {"numberFormat": number}},
                "fields": "userEnteredFormat.numberFormat"}})  # fmt: skip
        return requests_

    def _number_format_of(self, title: str, row: int, col: int) -> dict[str, Any] | None:
        """A cell's number format (None: it has none of its own)."""
        params = {"includeGridData": "False", "ranges": _range(title, f"{column_letter(col)}{row + 1}"),
                  "fields": "sheets.data.rowData.values.userEnteredFormat"}  # fmt: skip
        found = self.call(self.http.fetch_sheet_metadata, self.ref.key, params)
        try:
            cell = found["sheets"][0]["data"][0]["rowData"][0]["values"][0]
        except (KeyError, IndexError, TypeError):
            return None
        number = cell.get("userEnteredFormat", {}).get("numberFormat")
        return number if isinstance(number, dict) else None


def _key_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip().lower()


def _reasons(err: APIError) -> set[str]:
    """The machine-readable reasons of an API error (its details' `reason`s)."""
    try:
        details = err.response.json()["error"].get("details", [])
    except (ValueError, KeyError, TypeError, AttributeError):
        return set()
    return {d.get("reason", "") for d in details if isinstance(d, dict)}


def _auth_reason(err: Exception) -> str:
    """google-auth's error, first line only (it never holds the key)."""
    text = str(err.args[0] if err.args else err)
    return text.splitlines()[0][:200] if text else type(err).__name__


def _message(err: APIError) -> str:
    try:
        return err.response.json()["error"]["message"]
    except (ValueError, KeyError, TypeError):
        return err.response.text[:200]


def group_ranges(writes: Sequence[CellWrite]) -> list[tuple[str, str, list[list[Any]]]]:
    """Changed cells as few rectangles: rows closer than GAP_ROWS share one, and cells in it
    that do not change are JSON null (the API keeps their values)."""
    by_sheet: dict[str, dict[tuple[int, int], Any]] = {}
    for write in writes:
        value = "" if write.value is None else write.value  # "" empties a cell
        by_sheet.setdefault(write.sheet, {})[(write.row, write.col)] = value
    out = []
    for sheet, cells in by_sheet.items():
        rows = sorted({r for r, _ in cells})
        blocks: list[list[int]] = [[rows[0]]]
        for row in rows[1:]:
            if row - blocks[-1][-1] <= GAP_ROWS:
                blocks[-1].append(row)
            else:
                blocks.append([row])
        for block in blocks:
            first, last = block[0], block[-1]
            cols = sorted({c for r, c in cells if first <= r <= last})
            c0, c1 = cols[0], cols[-1]
            values = [
                [cells.get((r, c)) for c in range(c0, c1 + 1)] for r in range(first, last + 1)
            ]
            out.append(
                (sheet, f"{column_letter(c0)}{first + 1}:{column_letter(c1)}{last + 1}", values)
            )
    return out
