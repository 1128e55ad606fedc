"""milestone-sheets: a milestone plan in a spreadsheet that manages itself."""

__version__ = "0.1.0"
