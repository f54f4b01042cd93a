"""Error types that the CLI turns into one clear line and a non-zero exit (never a traceback)."""

from __future__ import annotations

from dataclasses import dataclass


class CuratorError(Exception):
    """A user-facing failure: its message is printed as is, and the command exits 1."""

    exit_code = 1


class UsageError(CuratorError):
    """The command line itself is wrong (exit 2, like click's own usage errors)."""

    exit_code = 2


class PluginError(CuratorError):
    """A plugin could not be loaded or registered something invalid."""


@dataclass(frozen=True)
class Problem:
    """One finding about one file: where (file + JSON pointer) and what."""

    file: str
    pointer: str
    message: str
    severity: str = "error"  # "error" | "warning"

    def __str__(self) -> str:
        return f"{self.file}: {self.pointer or '/'}: {self.message}"

    def as_dict(self) -> dict:
        return {"file": self.file, "pointer": self.pointer or "/", "message": self.message, "severity": self.severity}
