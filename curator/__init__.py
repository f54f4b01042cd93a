"""curator: a machine-checked certified-robustness leaderboard.

The public API for plugins is :mod:`curator.api` (registered object types and the hook marker)
plus the helper modules it names. Plugins import only from there.
"""

__version__ = "0.1.0"
