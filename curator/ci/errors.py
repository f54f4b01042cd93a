"""The error of a CI step."""

from __future__ import annotations

from curator.core.errors import CuratorError


class CiError(CuratorError):
    """A CI step failed or refused: its message says which and why (the job exits 1)."""
