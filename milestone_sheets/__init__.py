"""milestone-sheets: a milestone plan in a spreadsheet that manages itself.

The Python API (see `app`): `open_source`, `evaluate`, `sync`, and `Outcome.frame()` for
the milestones, goals and tasks with their computed columns as pandas DataFrames;
`History` (a state folder's history store) and `past_of` for baselines and drift.
"""

__version__ = "0.2.0"

from milestone_sheets.app import (  # noqa: E402
    Outcome,
    Settings,
    evaluate,
    load_config,
    open_source,
    past_of,
    settings_for,
    sync,
)
from milestone_sheets.history import History  # noqa: E402

__all__ = [
    "History",
    "Outcome",
    "Settings",
    "evaluate",
    "load_config",
    "open_source",
    "past_of",
    "settings_for",
    "sync",
]
