"""curator's bundled plugins, installed as ``curator_plugins``.

Each subpackage is one plugin, listed in the ``curator`` entry-point group of pyproject.toml and
loaded exactly like a third-party plugin. Plugins import only curator's public API.
"""
