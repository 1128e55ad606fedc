"""A loopback emulator of the Google Sheets API v4 subset milestone-sheets and gspread use.

Its behaviour follows recorded real traffic (the gspread test cassettes): response shapes,
range normalisation and quoting, ragged rows, render options, RAW versus USER_ENTERED,
and error bodies. Where no recording exists (appendDimension, 5xx) it follows Google's
documentation. It is a test and try-out tool: `milestone-sheets demo --google` runs the
demo against it, and `[google] endpoint = "http://127.0.0.1:PORT"` points any command
at one.

    emulator = SheetsEmulator()
    url = emulator.start()            # http://127.0.0.1:PORT
    emulator.add_spreadsheet("KEY", {"Milestones": [["Name", "Owner", "Due"], ...]})
    ...
    emulator.stop()
"""

from __future__ import annotations

import ast
import json
import operator
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from milestone_sheets.domain.grid import column_index, column_letter

EPOCH = date(1899, 12, 30)
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
_CELL = re.compile(r"^([A-Za-z]*)(\d*)$")


def _with_color_styles(cell_format: dict[str, Any]) -> dict[str, Any]:
    """A format as the API returns it: each color also as its `...ColorStyle` twin."""
    shown: dict[str, Any] = {}
    for name, value in cell_format.items():
        shown[name] = _with_color_styles(value) if isinstance(value, dict) else value
        if name.endswith("Color") and isinstance(value, dict):
            shown[name + "Style"] = {"rgbColor": value}
    return shown


@dataclass
class Cell:
    """A cell: its value (str, int, float, bool), a formula, and whether it is a date."""

    value: Any = None
    formula: str | None = None
    is_date: bool = False


@dataclass
class Sheet:
    sheet_id: int
    title: str
    rows: int = 1000
    cols: int = 26
    cells: dict[tuple[int, int], Cell] = field(default_factory=dict)
    hidden: bool = False
    # Merged ranges as the API's GridRange objects (end indexes exclusive). No recording
    # holds a merge: the shape follows Google's reference for Sheet.merges.
    merges: list[dict[str, int]] = field(default_factory=list)
    # Each cell's userEnteredFormat, as repeatCell sets it (WorksheetTest.test_format).
    formats: dict[tuple[int, int], dict[str, Any]] = field(default_factory=dict)

    def properties(self, index: int) -> dict[str, Any]:
        props: dict[str, Any] = {
            "sheetId": self.sheet_id,
            "title": self.title,
            "index": index,
            "sheetType": "GRID",
            "gridProperties": {"rowCount": self.rows, "columnCount": self.cols},
        }
        if self.hidden:
            props["hidden"] = True
        return props

    def used(self) -> tuple[int, int]:
        """(rows, cols) holding values."""
        if not self.cells:
            return 0, 0
        return max(r for r, _ in self.cells) + 1, max(c for _, c in self.cells) + 1


@dataclass
class Spreadsheet:
    key: str
    title: str
    sheets: list[Sheet]
    private: bool = False

    def sheet(self, title: str) -> Sheet | None:
        for sheet in self.sheets:
            if sheet.title == title:
                return sheet
        return None

    def by_id(self, sheet_id: int) -> Sheet | None:
        return next((s for s in self.sheets if s.sheet_id == sheet_id), None)


class ApiError(Exception):
    def __init__(self, code: int, status: str, message: str, details: list[Any] | None = None):
        super().__init__(message)
        self.code, self.status, self.message, self.details = code, status, message, details

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message, "status": self.status}
        if self.details:
            error["details"] = self.details
        return {"error": error}


def quota_error(kind: str = "Read") -> ApiError:
    """The 429 body the real API sends for an exhausted per-minute quota."""
    return ApiError(
        429,
        "RESOURCE_EXHAUSTED",
        f"Quota exceeded for quota metric '{kind} requests' and limit '{kind} requests per minute "
        "per user' of service 'sheets.googleapis.com' for consumer 'project_number:0'.",
        [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "RATE_LIMIT_EXCEEDED",
          "domain": "googleapis.com", "metadata": {"service": "sheets.googleapis.com",
          "quota_limit": f"{kind}RequestsPerMinutePerUser",
          "quota_metric": f"sheets.googleapis.com/{kind.lower()}_requests"}}],
    )  # fmt: skip


# --- A1 notation --------------------------------------------------------------------------


col_letters = column_letter
col_index = column_index


def quote_title(title: str) -> str:
    """Unquoted when a plain word that cannot be read as a cell reference, else quoted."""
    if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", title) and not re.fullmatch(
        r"[A-Za-z]{1,3}\d+", title
    ):
        return title
    return "'" + title.replace("'", "''") + "'"


def split_range(text: str) -> tuple[str | None, str]:
    """`'My sheet'!A1:B2` -> ("My sheet", "A1:B2"); a bare name -> (name, "")."""
    if text.startswith("'"):
        end = 1
        while True:
            end = text.index("'", end)
            if text[end : end + 2] == "''":
                end += 2
                continue
            break
        title = text[1:end].replace("''", "'")
        rest = text[end + 1 :]
        return title, rest[1:] if rest.startswith("!") else rest
    if "!" in text:
        title, _, cells = text.rpartition("!")
        return title, cells
    return None, text


@dataclass(frozen=True)
class Area:
    """A rectangle, 0-based and inclusive; None ends are open."""

    r0: int
    c0: int
    r1: int | None
    c1: int | None


def parse_cells(cells: str) -> Area:
    if not cells:
        return Area(0, 0, None, None)
    first, _, last = cells.partition(":")
    a = _CELL.match(first)
    if not a:
        raise ApiError(400, "INVALID_ARGUMENT", f"Unable to parse range: {cells}")
    if not last:
        col, row = a.group(1), a.group(2)
        r, c = int(row) - 1 if row else 0, col_index(col) if col else 0
        return Area(r, c, r if row else None, c if col else None)
    b = _CELL.match(last)
    if not b:
        raise ApiError(400, "INVALID_ARGUMENT", f"Unable to parse range: {cells}")
    return Area(
        int(a.group(2)) - 1 if a.group(2) else 0,
        col_index(a.group(1)) if a.group(1) else 0,
        int(b.group(2)) - 1 if b.group(2) else None,
        col_index(b.group(1)) if b.group(1) else None,
    )


def a1(sheet: Sheet, r0: int, c0: int, r1: int, c1: int) -> str:
    start = f"{col_letters(c0)}{r0 + 1}"
    end = f"{col_letters(c1)}{r1 + 1}"
    return f"{quote_title(sheet.title)}!{start}" + ("" if (r0, c0) == (r1, c1) else f":{end}")


# --- values ---------------------------------------------------------------------------------

_OPS: dict[type, Callable[..., float]] = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
        ast.USub: operator.neg, ast.UAdd: operator.pos}  # fmt: skip


def _arithmetic(formula: str) -> float | None:
    """The value of a formula made only of numbers and + - * / ( ); None for anything else."""

    def walk(node: ast.AST) -> float:
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):
            return node.value
        if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
            return _OPS[type(node.op)](walk(node.left), walk(node.right))
        if isinstance(node, ast.UnaryOp) and type(node.op) in _OPS:
            return _OPS[type(node.op)](walk(node.operand))
        raise ValueError(formula)

    try:
        return walk(ast.parse(formula[1:], mode="eval").body)
    except (SyntaxError, ValueError, ZeroDivisionError):
        return None


def _number(value: float) -> int | float:
    return int(value) if isinstance(value, float) and value.is_integer() else value


def user_entered(value: Any) -> Cell | None:
    """How the Sheets UI would take a typed value: formulas, numbers and dates are parsed."""
    if value is None:
        return None
    if isinstance(value, str):
        text = value
        if text == "":
            return Cell()
        if text.startswith("="):
            return Cell(_arithmetic(text), formula=text)
        if _NUMBER.match(text.strip()):
            return Cell(_number(float(text)))
        if _ISO_DATE.match(text):
            try:
                return Cell((date.fromisoformat(text) - EPOCH).days, is_date=True)
            except ValueError:
                return Cell(text)
        return Cell(text)
    return Cell(_number(value) if isinstance(value, float) else value)


def raw(value: Any) -> Cell | None:
    """RAW: stored as given; a string is text, even `=1+1` or `2026-01-31`."""
    if value is None:
        return None
    if value == "":
        return Cell()
    return Cell(_number(value) if isinstance(value, float) else value)


def render(cell: Cell | None, value_option: str, date_option: str) -> Any:
    if cell is None or (cell.formula is None and cell.value in (None, "")):
        return ""
    if value_option == "FORMULA" and cell.formula:
        return cell.formula
    value = cell.value
    if value is None:
        return ""
    if value_option in ("UNFORMATTED_VALUE", "FORMULA"):
        if (
            cell.is_date
            and date_option == "FORMATTED_STRING"
            and value_option == "UNFORMATTED_VALUE"
        ):
            return (EPOCH + timedelta(days=int(value))).isoformat()
        return _number(value) if isinstance(value, float) else value
    # FORMATTED_VALUE: every value a string.
    if cell.is_date:
        return (EPOCH + timedelta(days=int(value))).isoformat()
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, (int, float)):
        return str(_number(value))
    return str(value)


# --- the emulator ---------------------------------------------------------------------------

Hook = Callable[["SheetsEmulator", str, str], None]


class SheetsEmulator:
    """The API state, a request log, fault injection, and the HTTP server around them."""

    def __init__(self) -> None:
        self.spreadsheets: dict[str, Spreadsheet] = {}
        self.requests: list[tuple[str, str]] = []  # (method, path with query)
        self.bodies: list[Any] = []  # the JSON body of each request (None without one)
        self.faults: list[tuple[Callable[[str, str], bool], ApiError]] = []
        self.hooks: list[Hook] = []  # called before each request is handled
        self.lock = threading.RLock()
        self.server: ThreadingHTTPServer | None = None
        self._next_sheet_id = 1_000_001

    # state

    def add_spreadsheet(
        self, key: str, sheets: dict[str, list[list[Any]]], *, title: str = "Plan", private: bool = False,
        rows: int = 1000, cols: int = 26,
    ) -> Spreadsheet:  # fmt: skip
        """A spreadsheet whose sheets hold these rows; dates become date cells, strings
        starting with = formulas, `(formula, cached)` tuples formulas with a value."""
        made = []
        for index, (name, values) in enumerate(sheets.items()):
            sheet = Sheet(0 if index == 0 else self._new_sheet_id(), name, max(rows, len(values)),
                          max(cols, max((len(r) for r in values), default=0)))  # fmt: skip
            for r, row in enumerate(values):
                for c, value in enumerate(row):
                    cell = self._seed(value)
                    if cell is not None:
                        sheet.cells[(r, c)] = cell
            made.append(sheet)
        with self.lock:
            spreadsheet = self.spreadsheets[key] = Spreadsheet(key, title, made, private)
        return spreadsheet

    def _new_sheet_id(self) -> int:
        self._next_sheet_id += 7919
        return self._next_sheet_id

    @staticmethod
    def _seed(value: Any) -> Cell | None:
        if value is None or value == "":
            return None
        if isinstance(value, tuple):
            formula, cached = value
            return Cell(cached, formula=formula)
        if isinstance(value, datetime):
            value = value.date()
        if isinstance(value, date):
            return Cell((value - EPOCH).days, is_date=True)
        if isinstance(value, str) and value.startswith("="):
            return Cell(_arithmetic(value), formula=value)
        return Cell(value)

    def values(self, key: str, title: str) -> list[list[Any]]:
        """A sheet's values as UNFORMATTED_VALUE rows (for assertions)."""
        sheet = self.spreadsheets[key].sheet(title)
        assert sheet is not None
        rows, cols = sheet.used()
        return [[render(sheet.cells.get((r, c)), "UNFORMATTED_VALUE", "SERIAL_NUMBER") for c in range(cols)]
                for r in range(rows)]  # fmt: skip

    def merge(self, key: str, title: str, first_row: int, first_col: int, last_row: int,
              last_col: int) -> None:  # fmt: skip
        """Merge a range (0-based, inclusive), as a person would in the UI."""
        with self.lock:
            sheet = self.spreadsheets[key].sheet(title)
            assert sheet is not None
            sheet.merges.append({"sheetId": sheet.sheet_id, "startRowIndex": first_row,
                                 "endRowIndex": last_row + 1, "startColumnIndex": first_col,
                                 "endColumnIndex": last_col + 1})  # fmt: skip

    def set_cell(self, key: str, title: str, row: int, col: int, value: Any) -> None:
        """Type a value into a cell (0-based; None clears it), as a person would."""
        with self.lock:
            sheet = self.spreadsheets[key].sheet(title)
            assert sheet is not None
            cell = self._seed(value)
            if cell is None:
                sheet.cells.pop((row, col), None)
            else:
                sheet.cells[(row, col)] = cell

    def insert_rows(self, key: str, title: str, at: int, count: int = 1) -> None:
        """Insert blank rows before 0-based row `at`, as a person would."""
        with self.lock:
            sheet = self.spreadsheets[key].sheet(title)
            assert sheet is not None
            self._shift_rows(sheet, at, count)

    def delete_rows(self, key: str, title: str, at: int, count: int = 1) -> None:
        """Delete rows from 0-based row `at`, as a person would."""
        with self.lock:
            sheet = self.spreadsheets[key].sheet(title)
            assert sheet is not None
            self._shift_rows(sheet, at + count, -count, drop=(at, at + count))

    def sort_rows(self, key: str, title: str, first: int, col: int, reverse: bool = False) -> None:
        """Sort rows from 0-based `first` to the end by one column, as the UI's sort does."""
        with self.lock:
            sheet = self.spreadsheets[key].sheet(title)
            assert sheet is not None
            last = sheet.used()[0]
            rows = [
                {c: sheet.cells.pop((r, c)) for (rr, c) in list(sheet.cells) if rr == r}
                for r in range(first, last)
            ]
            rows.sort(key=lambda cells: str(cells.get(col, Cell("")).value), reverse=reverse)
            for offset, cells in enumerate(rows):
                for c, cell in cells.items():
                    sheet.cells[(first + offset, c)] = cell

    @staticmethod
    def _shift_rows(sheet: Sheet, at: int, count: int, drop: tuple[int, int] | None = None) -> None:
        moved = {}
        for (r, c), cell in sheet.cells.items():
            if drop and drop[0] <= r < drop[1]:
                continue
            moved[(r + count if r >= at else r, c)] = cell
        sheet.cells = moved
        sheet.rows = max(sheet.rows + count, 1)

    def fail_next(
        self, error: ApiError, times: int = 1, when: Callable[[str, str], bool] | None = None
    ) -> None:
        """Answer the next `times` matching requests with this error."""
        for _ in range(times):
            self.faults.append((when or (lambda method, path: True), error))

    def count(self, method: str | None = None) -> int:
        return sum(1 for m, _ in self.requests if method is None or m == method)

    # HTTP

    def start(self, port: int = 0) -> str:
        emulator = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def _handle(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                status, payload = emulator.handle(method, self.path, body)
                data = (json.dumps(payload, indent=2, ensure_ascii=False) + "\n").encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=UTF-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                self._handle("GET")

            def do_POST(self) -> None:
                self._handle("POST")

            def do_PUT(self) -> None:
                self._handle("PUT")

            def do_DELETE(self) -> None:
                self._handle("DELETE")

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def stop(self) -> None:
        if self.server:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def handle(self, method: str, raw_path: str, body: bytes) -> tuple[int, Any]:
        with self.lock:
            self.requests.append((method, raw_path))
            try:
                self.bodies.append(json.loads(body) if body else None)
            except ValueError:
                self.bodies.append(body)
            for hook in list(self.hooks):
                hook(self, method, raw_path)
            for index, (when, error) in enumerate(self.faults):
                if when(method, raw_path):
                    del self.faults[index]
                    return error.code, error.body()
            try:
                return 200, self._route(method, raw_path, body)
            except ApiError as err:
                return err.code, err.body()

    def _route(self, method: str, raw_path: str, body: bytes) -> Any:
        parts = urlsplit(raw_path)
        query = {k: v for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        path = parts.path
        match = re.match(r"^/v4/spreadsheets/([^/:]+)(.*)$", path)
        if not match:
            raise ApiError(404, "NOT_FOUND", "Requested entity was not found.")
        spreadsheet = self.spreadsheets.get(unquote(match.group(1)))
        if spreadsheet is None:
            raise ApiError(404, "NOT_FOUND", "Requested entity was not found.")
        if spreadsheet.private:
            raise ApiError(403, "PERMISSION_DENIED", "The caller does not have permission")
        rest = match.group(2)
        data = json.loads(body) if body else None
        if rest == "" and method == "GET":
            if "ranges" in query and "userEnteredFormat" in query.get("fields", [""])[0]:
                return self._formats(spreadsheet, query["ranges"])
            return self._metadata(spreadsheet)
        if rest == ":batchUpdate" and method == "POST":
            return self._batch_update(spreadsheet, data or {})
        if rest == "/values:batchGet" and method == "GET":
            return {"spreadsheetId": spreadsheet.key,
                    "valueRanges": [self._get(spreadsheet, r, query) for r in query.get("ranges", [])]}  # fmt: skip
        if rest == "/values:batchUpdate" and method == "POST":
            return self._values_batch_update(spreadsheet, data or {})
        if rest == "/values:batchClear" and method == "POST":
            return {"spreadsheetId": spreadsheet.key,
                    "clearedRanges": [self._clear(spreadsheet, r) for r in (data or {}).get("ranges", [])]}  # fmt: skip
        if rest.startswith("/values/"):
            encoded = rest[len("/values/") :]
            action = ""
            if encoded.endswith((":append", ":clear")):
                encoded, _, action = encoded.rpartition(":")
            range_text = unquote(encoded)
            if method == "GET" and not action:
                return self._get(spreadsheet, range_text, query)
            if method == "PUT" and not action:
                option = query.get("valueInputOption", ["RAW"])[0]
                return self._update(spreadsheet, range_text, data or {}, option, query)
            if method == "POST" and action == "clear":
                return {
                    "spreadsheetId": spreadsheet.key,
                    "clearedRange": self._clear(spreadsheet, range_text),
                }
        raise ApiError(404, "NOT_FOUND", "Requested entity was not found.")

    def _metadata(self, spreadsheet: Spreadsheet) -> dict[str, Any]:
        return {
            "spreadsheetId": spreadsheet.key,
            "properties": {
                "title": spreadsheet.title, "locale": "en_US", "autoRecalc": "ON_CHANGE",
                "timeZone": "Etc/GMT",
                "defaultFormat": {"backgroundColor": {"red": 1, "green": 1, "blue": 1}, "padding": {"top": 2, "right": 3, "bottom": 2, "left": 3},
                                  "verticalAlignment": "BOTTOM", "wrapStrategy": "OVERFLOW_CELL",
                                  "textFormat": {"foregroundColor": {}, "fontFamily": "arial,sans,sans-serif", "fontSize": 10,
                                                 "bold": False, "italic": False, "strikethrough": False, "underline": False}},
            },
            "sheets": [{"properties": sheet.properties(i), **({"merges": sheet.merges} if sheet.merges else {})}
                       for i, sheet in enumerate(spreadsheet.sheets)],
            "spreadsheetUrl": f"https://docs.google.com/spreadsheets/d/{spreadsheet.key}/edit",
        }  # fmt: skip

    def _formats(self, spreadsheet: Spreadsheet, ranges: list[str]) -> dict[str, Any]:
        """spreadsheets.get with ranges and a userEnteredFormat field mask: each range's
        rows of cells, a cell without a format as an empty object (test_format [6])."""
        sheets = []
        for text in ranges:
            sheet, area = self._resolve(spreadsheet, text)
            r1 = area.r0 if area.r1 is None else area.r1
            c1 = area.c0 if area.c1 is None else area.c1
            rows = [{"values": [({"userEnteredFormat": _with_color_styles(sheet.formats[(r, c)])}
                                 if (r, c) in sheet.formats else {})
                                for c in range(area.c0, c1 + 1)]}
                    for r in range(area.r0, r1 + 1)]  # fmt: skip
            sheets.append({"data": [{"rowData": rows}]})
        return {"sheets": sheets}

    def _resolve(self, spreadsheet: Spreadsheet, text: str) -> tuple[Sheet, Area]:
        title, cells = split_range(text)
        if title is None:
            # A bare word: a sheet name if there is one, else cells on the first sheet.
            if spreadsheet.sheet(cells):
                title, cells = cells, ""
            else:
                title = spreadsheet.sheets[0].title
        sheet = spreadsheet.sheet(title)
        if sheet is None:
            raise ApiError(400, "INVALID_ARGUMENT", f"Unable to parse range: {text}")
        return sheet, parse_cells(cells)

    def _get(
        self, spreadsheet: Spreadsheet, text: str, query: dict[str, list[str]]
    ) -> dict[str, Any]:
        sheet, area = self._resolve(spreadsheet, text)
        value_option = query.get("valueRenderOption", ["FORMATTED_VALUE"])[0]
        date_option = query.get("dateTimeRenderOption", ["SERIAL_NUMBER"])[0]
        major = query.get("majorDimension", ["ROWS"])[0]
        r1 = sheet.rows - 1 if area.r1 is None else min(area.r1, sheet.rows - 1)
        c1 = sheet.cols - 1 if area.c1 is None else min(area.c1, sheet.cols - 1)
        result: dict[str, Any] = {
            "range": a1(sheet, area.r0, area.c0, r1, c1),
            "majorDimension": major,
        }
        rows = []
        outer = range(area.c0, c1 + 1) if major == "COLUMNS" else range(area.r0, r1 + 1)
        inner = range(area.r0, r1 + 1) if major == "COLUMNS" else range(area.c0, c1 + 1)
        for o in outer:
            line = []
            for i in inner:
                r, c = (i, o) if major == "COLUMNS" else (o, i)
                line.append(render(sheet.cells.get((r, c)), value_option, date_option))
            while line and line[-1] == "":
                line.pop()
            rows.append(line)
        while rows and not rows[-1]:
            rows.pop()
        if rows:
            result["values"] = rows
        return result

    def _write(self, sheet: Sheet, area: Area, values: Any, option: str) -> dict[str, Any]:
        if not isinstance(values, list) or not all(isinstance(row, list) for row in values):
            message = f"Invalid value at 'data.values' (type.googleapis.com/google.protobuf.ListValue), {json.dumps(values)}"
            raise ApiError(400, "INVALID_ARGUMENT", message, [{"@type": "type.googleapis.com/google.rpc.BadRequest",
                           "fieldViolations": [{"field": "data.values", "description": message}]}])  # fmt: skip
        convert = user_entered if option == "USER_ENTERED" else raw
        touched_rows, touched_cols, cells = set(), set(), 0
        width = max((len(row) for row in values), default=0)
        for dr, row in enumerate(values):
            for dc, value in enumerate(row):
                cell = convert(value)
                if cell is None:
                    continue
                r, c = area.r0 + dr, area.c0 + dc
                if cell.value is None and cell.formula is None:
                    sheet.cells.pop((r, c), None)
                else:
                    sheet.cells[(r, c)] = cell
                touched_rows.add(r)
                touched_cols.add(c)
                cells += 1
        # Writes are not limited by the grid: it grows to hold them.
        sheet.rows = max(sheet.rows, area.r0 + len(values))
        sheet.cols = max(sheet.cols, area.c0 + width)
        end_r, end_c = area.r0 + max(len(values), 1) - 1, area.c0 + max(width, 1) - 1
        return {"updatedRange": a1(sheet, area.r0, area.c0, end_r, end_c), "updatedRows": len(touched_rows),
                "updatedColumns": len(touched_cols), "updatedCells": cells,
                "_rows": touched_rows, "_cols": touched_cols}  # fmt: skip

    def _update(self, spreadsheet: Spreadsheet, text: str, data: dict[str, Any], option: str,
                query: dict[str, list[str]]) -> dict[str, Any]:  # fmt: skip
        sheet, area = self._resolve(spreadsheet, text)
        if data.get("majorDimension") == "COLUMNS":
            data = {"values": [list(col) for col in zip(*data.get("values", []), strict=False)]}
        result = self._write(sheet, area, data.get("values"), option)
        response = {
            "spreadsheetId": spreadsheet.key,
            **{k: v for k, v in result.items() if not k.startswith("_")},
        }
        if query.get("includeValuesInResponse", ["false"])[0].lower() == "true":
            response["updatedData"] = self._get(spreadsheet, result["updatedRange"], query)
        return response

    def _values_batch_update(
        self, spreadsheet: Spreadsheet, data: dict[str, Any]
    ) -> dict[str, Any]:
        option = data.get("valueInputOption")
        if option not in ("RAW", "USER_ENTERED"):
            raise ApiError(
                400, "INVALID_ARGUMENT", "Invalid valueInputOption: INPUT_VALUE_OPTION_UNSPECIFIED"
            )
        responses, rows, cols, sheets, cells = [], set(), set(), set(), 0
        for item in data.get("data", []):
            sheet, area = self._resolve(spreadsheet, item["range"])
            result = self._write(sheet, area, item.get("values"), option)
            rows |= {(sheet.sheet_id, r) for r in result.pop("_rows")}
            cols |= {(sheet.sheet_id, c) for c in result.pop("_cols")}
            cells += result["updatedCells"]
            sheets.add(sheet.sheet_id)
            responses.append({"spreadsheetId": spreadsheet.key, **result})
        return {"spreadsheetId": spreadsheet.key, "totalUpdatedRows": len(rows), "totalUpdatedColumns": len(cols),
                "totalUpdatedCells": cells, "totalUpdatedSheets": len(sheets), "responses": responses}  # fmt: skip

    def _clear(self, spreadsheet: Spreadsheet, text: str) -> str:
        sheet, area = self._resolve(spreadsheet, text)
        r1 = sheet.rows - 1 if area.r1 is None else min(area.r1, sheet.rows - 1)
        c1 = sheet.cols - 1 if area.c1 is None else min(area.c1, sheet.cols - 1)
        for key in [k for k in sheet.cells if area.r0 <= k[0] <= r1 and area.c0 <= k[1] <= c1]:
            del sheet.cells[key]
        return a1(sheet, area.r0, area.c0, r1, c1)

    def _batch_update(self, spreadsheet: Spreadsheet, data: dict[str, Any]) -> dict[str, Any]:
        replies = []
        for index, request in enumerate(data.get("requests", [])):
            ((kind, spec),) = request.items()
            replies.append(self._structural(spreadsheet, index, kind, spec))
        return {"spreadsheetId": spreadsheet.key, "replies": replies}

    def _structural(
        self, spreadsheet: Spreadsheet, index: int, kind: str, spec: dict[str, Any]
    ) -> dict[str, Any]:
        def sheet_of(sheet_id: Any) -> Sheet:
            sheet = spreadsheet.by_id(int(sheet_id or 0))
            if sheet is None:
                raise ApiError(
                    400,
                    "INVALID_ARGUMENT",
                    f"Invalid requests[{index}].{kind}: No grid with id: {sheet_id}",
                )
            return sheet

        if kind == "appendDimension":
            sheet = sheet_of(spec.get("sheetId"))
            if spec.get("dimension") == "COLUMNS":
                sheet.cols += int(spec["length"])
            else:
                sheet.rows += int(spec["length"])
            return {}
        if kind in ("insertDimension", "deleteDimension"):
            area = spec["range"]
            sheet = sheet_of(area.get("sheetId"))
            start, end = int(area.get("startIndex", 0)), int(area["endIndex"])
            count = end - start
            if area.get("dimension") == "ROWS":
                if kind == "insertDimension":
                    self._shift_rows(sheet, start, count)
                else:
                    self._shift_rows(sheet, end, -count, drop=(start, end))
            else:
                moved = {}
                for (r, c), cell in sheet.cells.items():
                    if kind == "deleteDimension" and start <= c < end:
                        continue
                    shift = count if kind == "insertDimension" else -count
                    moved[
                        (r, c + shift if c >= (start if kind == "insertDimension" else end) else c)
                    ] = cell
                sheet.cells = moved
                sheet.cols += count if kind == "insertDimension" else -count
            return {}
        if kind == "updateSheetProperties":
            props = spec.get("properties", {})
            sheet = sheet_of(props.get("sheetId"))
            grid = props.get("gridProperties", {})
            sheet.rows = int(grid.get("rowCount", sheet.rows))
            sheet.cols = int(grid.get("columnCount", sheet.cols))
            if "hidden" in props:
                if (
                    props["hidden"]
                    and sum(1 for s in spreadsheet.sheets if not s.hidden and s is not sheet) == 0
                ):
                    raise ApiError(400, "INVALID_ARGUMENT",
                                   f"Invalid requests[{index}].updateSheetProperties: You can't hide all the sheets in a document.")  # fmt: skip
                sheet.hidden = bool(props["hidden"])
            if "title" in props:
                sheet.title = props["title"]
            return {}
        if kind == "repeatCell":
            area = spec["range"]
            sheet = sheet_of(area.get("sheetId"))
            r0, c0 = int(area.get("startRowIndex", 0)), int(area.get("startColumnIndex", 0))
            r1 = int(area.get("endRowIndex", sheet.rows))
            c1 = int(area.get("endColumnIndex", sheet.cols))
            if r1 > sheet.rows or c1 > sheet.cols:
                raise ApiError(400, "INVALID_ARGUMENT", f"Invalid requests[{index}].repeatCell: "
                               f"Range ({sheet.title}!R{r0 + 1}C{c0 + 1}:R{r1}C{c1}) exceeds grid "
                               f"limits. Max rows: {sheet.rows}, max columns: {sheet.cols}")  # fmt: skip
            fields = spec.get("fields", "")
            wanted = spec.get("cell", {}).get("userEnteredFormat", {})
            names = (re.findall(r"\w+", fields.split("(", 1)[1]) if "(" in fields
                     else [fields.split(".", 1)[1]] if "." in fields else list(wanted))  # fmt: skip
            for r in range(r0, r1):
                for c in range(c0, c1):
                    cell_format = dict(sheet.formats.get((r, c), {}))
                    for name in names:
                        if name in wanted:
                            cell_format[name] = wanted[name]
                        else:
                            cell_format.pop(name, None)
                    sheet.formats[(r, c)] = cell_format
            return {}
        if kind == "addSheet":
            props = spec.get("properties", {})
            grid = props.get("gridProperties", {})
            sheet = Sheet(self._new_sheet_id(), props.get("title") or f"Sheet{len(spreadsheet.sheets) + 1}",
                          int(grid.get("rowCount", 1000)), int(grid.get("columnCount", 26)))  # fmt: skip
            spreadsheet.sheets.append(sheet)
            return {"addSheet": {"properties": sheet.properties(len(spreadsheet.sheets) - 1)}}
        if kind == "deleteSheet":
            sheet = sheet_of(spec.get("sheetId"))
            spreadsheet.sheets.remove(sheet)
            return {}
        raise ApiError(
            400,
            "INVALID_ARGUMENT",
            f"Invalid requests[{index}]: the emulator does not implement {kind}",
        )


def main() -> None:  # pragma: no cover - an interactive helper
    """Serve the starter plan on 127.0.0.1 until interrupted, to try a config offline."""
    import sys
    import time

    from milestone_sheets.starter import DEMO_KEY, starter_tables

    port = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    emulator = SheetsEmulator()
    url = emulator.start(port)
    emulator.add_spreadsheet(DEMO_KEY, starter_tables(date.today()), title="Demo plan")
    print(f"Sheets API emulator at {url}; spreadsheet gsheet:{DEMO_KEY}. Ctrl-C stops it.")
    print(
        f'In milestone-sheets.toml: [google] endpoint = "{url}" and [source] location = "gsheet:{DEMO_KEY}"'
    )
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        emulator.stop()


if __name__ == "__main__":  # pragma: no cover
    main()
