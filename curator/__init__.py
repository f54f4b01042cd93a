"""curator: a machine-checked certified-robustness leaderboard.

The public API for plugins is :mod:`curator.api` (registered object types, the hook marker) with
its facade modules (``curator.api.http``, ``.papers``, ``.data``, ``.nn``, ``.stats``, ``.files``),
plus the certification engines in :mod:`curator.engines`. Plugins import only from there
(docs/plugins.md, "What a plugin may import"; tests/api/test_boundary.py checks it).
"""

__version__ = "0.1.0"
