"""User-facing data errors: one line naming the file (and line) at fault."""

from __future__ import annotations


class DataError(Exception):
    """Bad or missing input data; the message is shown to the user as is (no traceback)."""
