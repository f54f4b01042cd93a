"""Test data for dataset plugins: pinned downloads, local copies, and readers of common formats.

Downloads (no torch; use them in :meth:`curator.api.Dataset.load`):

- :func:`fetch` (``url``, ``sha256``, ``cache_dir``, ``progress=...``) → a path in the cache holding
  exactly the pinned content (retries, a size cap, HTML error pages refused); :func:`fetch_any`
  tries several mirrors of the same pinned content; :func:`find_local` finds a user's own copy
  among candidate paths (a copy with another hash is an error, not skipped); they raise
  :class:`ArtifactError`.

Readers (they build tensors, so torch is imported on first use of one of them, not on
``import curator.api.data``):

- :func:`data_dir_from_env` (``--data-dir``, else ``$CURATOR_DATA``);
- :func:`read_idx` (MNIST's IDX files, optionally checked against a sha256 of the content),
  :func:`parse_cifar_binary`, :func:`cifar_test_batch_from_archive` with :data:`CIFAR_TEST_MEMBER`
  and :data:`CIFAR_TEST_BYTES`, :func:`read_cifar_csv` (ERAN's CSV), :func:`load_digits_arrays`,
  :func:`load_npz`, :class:`ImageFolderSequence` (an ImageFolder decoded row by row);
- :class:`DatasetError`, what they raise on malformed data.

Stability: the names in ``__all__`` are plugin API; a change to them is made together with
docs/plugins.md and the bundled datasets plugin.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from curator.api._lazy import lazy_names
from curator.verify.artifacts import ArtifactError, fetch, fetch_any, find_local

if TYPE_CHECKING:  # pragma: no cover
    from curator.verify.datasets import (
        CIFAR_TEST_BYTES,
        CIFAR_TEST_MEMBER,
        DatasetError,
        ImageFolderSequence,
        cifar_test_batch_from_archive,
        data_dir_from_env,
        load_digits_arrays,
        load_npz,
        parse_cifar_binary,
        read_cifar_csv,
        read_idx,
    )

_READERS = (
    "CIFAR_TEST_BYTES",
    "CIFAR_TEST_MEMBER",
    "DatasetError",
    "ImageFolderSequence",
    "cifar_test_batch_from_archive",
    "data_dir_from_env",
    "load_digits_arrays",
    "load_npz",
    "parse_cifar_binary",
    "read_cifar_csv",
    "read_idx",
)

__all__ = ["ArtifactError", "fetch", "fetch_any", "find_local", *_READERS]

__getattr__ = lazy_names(__name__, dict.fromkeys(_READERS, "curator.verify.datasets"))
