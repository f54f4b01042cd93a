"""Reading untrusted files for engines and plugins: bounded in size, gunzipped when gzipped.

- :func:`read_capped` (``source``, ``max_bytes``, ``error``, ``kind``) → ``(bytes, name)``: the
  file's bytes (decompressed when they start with the gzip magic), refusing with ``error`` — a
  :class:`curator.api.CuratorError` subclass of the caller's — a file or a decompressed content
  over ``max_bytes``; a gzip bomb is never inflated past the cap.

Stability: the names in ``__all__`` are plugin API; a change to them is made together with
docs/plugins.md and the engines that use them.
"""

from curator.core.jsonio import read_capped

__all__ = ["read_capped"]
