"""Facade names whose defining modules import torch, resolved on first use.

``curator plugins`` and ``curator validate`` load every plugin and must not pay for torch (about a
second per call), so a facade that offers tensor code binds those names when a plugin first reads
them, not when it imports the facade.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any


def lazy_names(facade: str, sources: Mapping[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` for ``facade``: each name of ``sources`` (name → the module that
    defines it) is imported on first access and then kept in the facade, so later reads are plain."""

    def __getattr__(name: str) -> Any:
        source = sources.get(name)
        if source is None:
            raise AttributeError(f"module {facade!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(source), name)
        setattr(sys.modules[facade], name, value)
        return value

    return __getattr__
