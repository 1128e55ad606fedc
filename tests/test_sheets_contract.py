"""The emulator against recorded real traffic: replay each recorded request, compare answers.

The recordings are gspread's own test cassettes of the real Sheets API v4 (see the
reference folder's README). Every Sheets request of the listed files is sent over HTTP to
the emulator in order; the status and the JSON body must match the recording (for
spreadsheets.get: the spreadsheet's id, URL, sheets and main properties).
"""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests

from milestone_sheets.testing.sheets_emulator import SheetsEmulator, quota_error

# A copy of the recordings (MIT-licensed, from gspread's test suite; the folder's README
# carries the notice and says what each file shows).
CASSETTES = Path(__file__).parent / "data" / "sheets-api-cassettes"
FILES = [
    "ClientTest.test_access_non_existing_spreadsheet",
    "ClientTest.test_access_private_spreadsheet",
    "SpreadsheetTest.test_export_spreadsheet",
    "SpreadsheetTest.test_values_batch_get",
    "SpreadsheetTest.test_values_get",
    "WorksheetTest.test_batch_clear",
    "WorksheetTest.test_batch_get",
    "WorksheetTest.test_batch_update",
    "WorksheetTest.test_format",
    "WorksheetTest.test_get_all_records_different_header",
    "WorksheetTest.test_get_all_records_pad_values",
    "WorksheetTest.test_get_all_records_value_render_options",
    "WorksheetTest.test_get_all_values_date_time_render_options",
    "WorksheetTest.test_hide_show_worksheet",
    "WorksheetTest.test_resize",
    "WorksheetTest.test_update_cell",
    "WorksheetTest.test_update_cells_noncontiguous",
    "pr1565-f9cfbff/WorksheetTest.test_update_cells_response_values",
]
METADATA_PROPERTIES = ("title", "locale", "autoRecalc", "timeZone")


def normalise(body: object, path: str) -> object:
    if isinstance(body, dict) and "sheets" in body and "spreadsheetUrl" in body:
        return {
            "spreadsheetId": body["spreadsheetId"],
            "spreadsheetUrl": body["spreadsheetUrl"],
            "sheets": body["sheets"],
            "properties": {k: body["properties"].get(k) for k in METADATA_PROPERTIES},
        }
    return body


def replay(name: str) -> list[str]:
    """Replay one cassette; the differences found (empty when the emulator agrees)."""
    cassette = json.loads((CASSETTES / f"{name}.json").read_text())
    emulator = SheetsEmulator()
    base = emulator.start()
    differences = []
    try:
        for index, interaction in enumerate(cassette["interactions"]):
            request, response = interaction["request"], interaction["response"]
            url = urlsplit(request["uri"])
            recorded_status = response["status"]["code"]
            recorded_text = response["body"]["string"]
            if url.netloc != "sheets.googleapis.com":
                if request["method"] == "POST" and url.path == "/drive/v3/files":
                    created = json.loads(recorded_text)
                    emulator.add_spreadsheet(created["id"], {"Sheet1": []}, title=created["name"])
                continue
            key = url.path.split("/")[3].split(":")[0]
            if key not in emulator.spreadsheets and recorded_status == 403:
                emulator.add_spreadsheet(key, {"Sheet1": []}, private=True)
            if recorded_status == 429:
                emulator.fail_next(quota_error())
            answer = requests.request(
                request["method"], base + request["uri"][len("https://sheets.googleapis.com") :],
                data=request["body"], headers={"Content-Type": "application/json"}, timeout=10,
            )  # fmt: skip
            recorded = json.loads(recorded_text) if recorded_text else None
            body = answer.json()
            if recorded and "replies" in recorded:
                # The server picks sheet ids; take the recorded ones, as later requests use them.
                for reply, ours in zip(recorded["replies"], body.get("replies", []), strict=False):
                    if "addSheet" in reply:
                        sheet = emulator.spreadsheets[key].by_id(
                            ours["addSheet"]["properties"]["sheetId"]
                        )
                        sheet.sheet_id = reply["addSheet"]["properties"]["sheetId"]
                        ours["addSheet"]["properties"]["sheetId"] = sheet.sheet_id
            if answer.status_code != recorded_status:
                differences.append(
                    f"[{index}] {request['method']} {url.path}: status {answer.status_code}, recorded {recorded_status}"
                )
            elif normalise(body, url.path) != normalise(recorded, url.path):
                differences.append(
                    f"[{index}] {request['method']} {request['uri']}:\n  ours     {json.dumps(normalise(body, url.path))[:600]}\n  recorded {json.dumps(normalise(recorded, url.path))[:600]}"
                )
    finally:
        emulator.stop()
    return differences


@pytest.mark.parametrize("name", FILES)
def test_the_emulator_answers_like_the_real_api(name):
    assert replay(name) == []


def test_quota_errors_have_the_recorded_shape():
    cassette = json.loads(
        (CASSETTES / "history-c2483753" / "WorksheetTest.test_insert_row.json").read_text()
    )
    recorded = [json.loads(i["response"]["body"]["string"]) for i in cassette["interactions"]
                if i["response"]["status"]["code"] == 429]  # fmt: skip
    assert recorded
    for kind, body in (("Read", recorded[0]), ("Write", recorded[-1])):
        ours = quota_error(kind).body()["error"]
        theirs = body["error"]
        assert (ours["code"], ours["status"]) == (theirs["code"], theirs["status"])
        assert (
            ours["message"].split(" for consumer")[0] == theirs["message"].split(" for consumer")[0]
        )
        assert ours["details"][0]["reason"] == theirs["details"][0]["reason"]
        assert (
            ours["details"][0]["metadata"]["quota_limit"]
            == theirs["details"][0]["metadata"]["quota_limit"]
        )
