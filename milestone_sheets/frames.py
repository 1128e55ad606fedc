"""Evaluated tables as pandas DataFrames (pandas is imported only when asked for)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from milestone_sheets.domain.evaluate import TableResult

if TYPE_CHECKING:
    import pandas


def table_frame(table: TableResult | None) -> pandas.DataFrame:
    """One row per sheet row that counts (blank and totals rows left out): `row` (the
    sheet's row number), each field the header maps (parsed: dates, amounts, fractions),
    then the computed columns under their sheet headers. An absent table is empty."""
    import pandas

    if table is None:
        return pandas.DataFrame()
    fields = [f.key for f in table.spec.fields if f.key in table.header.fields]
    columns = ["row", *fields, *table.spec.computed]
    records: list[dict[str, Any]] = []
    for record, computed in table.rows():
        values: dict[str, Any] = {"row": record.row}
        values.update({key: record.values.get(key) for key in fields})
        values.update(computed.column_values())
        records.append(values)
    return pandas.DataFrame.from_records(records, columns=columns)
