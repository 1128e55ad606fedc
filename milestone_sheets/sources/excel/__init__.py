"""Excel workbooks (.xlsx, .xlsm).

- `source`: the Source and its Book: reading values and formulas, the atomic replace.
- `workbook`: the workbook's own XML: where each worksheet's part is, the
  recalculate-on-open flag, tables that grow over new computed columns.
- `worksheet`: the streaming editor of a worksheet part, and the formula scan.
- `package`: the zip package, rewritten with every untouched part copied byte for byte.
"""

from milestone_sheets.sources.excel.source import ExcelBook, ExcelSource

__all__ = ["ExcelBook", "ExcelSource"]
