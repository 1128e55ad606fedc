"""The optional C extension `_speedups`, loaded in one place.

It holds a few hot loops of a large sync in C (see `_speedups.c`); the Python code beside
each stays the reference, gives the same results, and runs alone where the extension was
not built or where MILESTONE_SHEETS_PURE_PYTHON=1 is set.
"""

from __future__ import annotations

import importlib
import os
from typing import Any

module: Any = None
if not os.environ.get("MILESTONE_SHEETS_PURE_PYTHON"):
    try:
        module = importlib.import_module("milestone_sheets._speedups")
    except ImportError:
        pass
