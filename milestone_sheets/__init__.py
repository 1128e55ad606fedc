"""milestone-sheets: a milestone plan in a spreadsheet that manages itself.

The Python API (see `app`): `open_source`, `evaluate`, `sync`, and `Outcome.frame()` for
the milestones, goals and tasks with their computed columns as pandas DataFrames.
"""

__version__ = "0.2.0"

from milestone_sheets.app import (  # noqa: E402
    Outcome,
    Settings,
    evaluate,
    load_config,
    open_source,
    settings_for,
    sync,
)

__all__ = ["Outcome", "Settings", "evaluate", "load_config", "open_source", "settings_for", "sync"]
