"""Which test images a run certifies, and how a run is split into shards.

The selection is part of a claim (``result.sample_selection``) and of the report (its index list
hashed with :func:`indices_sha256`), so two runs on the same selection certify the same images.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from curator.core.errors import CuratorError, UsageError
from curator.core.jsonio import canonical_bytes

__all__ = ["select_indices", "indices_sha256", "read_indices_file", "claim_indices_sha256", "shard", "parse_shard",
           "shards_of_one_run", "merged_shard", "sum_timings", "KINDS"]

KINDS = ("all", "every_kth", "evenly_spaced", "first", "indices", "indices_file")
MAX_INDICES_FILE_BYTES = 8 * 1024 * 1024  # 10^6 indices of 7 digits; a test set is far smaller


def _int(selection: dict[str, Any], key: str, default: int | None, minimum: int) -> int:
    value = selection.get(key, default)
    if value is None:
        raise CuratorError(f"sample selection {selection.get('kind')!r} needs {key!r}")
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise CuratorError(f"sample selection: {key!r} must be an integer ≥ {minimum}, got {value!r}")
    return value


def select_indices(selection: dict[str, Any] | None, n_total: int, *, n: int | None = None,
                   base_dir: str | Path | None = None) -> list[int]:
    """Test-set indices in increasing order.

    - ``all`` (also ``None``): ``0 … n_total-1``.
    - ``every_kth`` (``k``, ``offset`` = 0): ``offset, offset+k, …`` — Cohen et al. (2019) certify
      every 20th CIFAR-10 test image (500 images) and every 100th ImageNet validation image.
    - ``evenly_spaced`` (``n``): ``floor(i · n_total / n)`` for ``i < n``: spread over the whole set,
      starting at 0, distinct whenever ``n ≤ n_total``.
    - ``first`` (``n``): ``0 … n-1``.
    - ``indices`` (``indices``): exactly those, strictly increasing, each below ``n_total``.
    - ``indices_file`` (``path``, ``sha256``): the same from a file inside ``base_dir`` (the entry's
      folder), pinned by the sha256 of its bytes (:func:`read_indices_file`).

    ``n`` (keyword), when given, then keeps only the first ``n`` of the selected indices (a quick
    run on a prefix of the claimed protocol, e.g. ``--samples``). Asking for more images than the
    set has is an error, not a silent truncation.
    """
    if isinstance(n_total, bool) or not isinstance(n_total, int) or n_total < 1:
        raise CuratorError(f"the test set is empty or its size is invalid ({n_total!r})")
    selection = dict(selection or {"kind": "all"})
    kind = selection.get("kind", "all")
    if kind == "all":
        out = list(range(n_total))
    elif kind == "every_kth":
        k = _int(selection, "k", None, 1)
        offset = _int(selection, "offset", 0, 0)
        if offset >= n_total:
            raise CuratorError(f"sample selection: offset {offset} is past the end of the {n_total}-image test set")
        out = list(range(offset, n_total, k))
    elif kind == "evenly_spaced":
        count = _int(selection, "n", None, 1)
        if count > n_total:
            raise CuratorError(f"sample selection asks for {count} images; the test set has {n_total}")
        out = [i * n_total // count for i in range(count)]
    elif kind == "first":
        count = _int(selection, "n", None, 1)
        if count > n_total:
            raise CuratorError(f"sample selection asks for {count} images; the test set has {n_total}")
        out = list(range(count))
    elif kind in ("indices", "indices_file"):
        raw = selection.get("indices") if kind == "indices" else read_indices_file(selection, base_dir)
        out = _checked_indices(raw, n_total)
    else:
        raise CuratorError(f"unknown sample selection kind {kind!r} (known: {', '.join(KINDS)})")
    if n is not None:
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise CuratorError(f"number of samples must be a positive integer, got {n!r}")
        out = out[:n]
    return out


def _checked_indices(raw: Any, n_total: int) -> list[int]:
    if not isinstance(raw, list) or not raw:
        raise CuratorError("sample selection: 'indices' must be a non-empty list of test-set indices")
    out: list[int] = []
    for pos, value in enumerate(raw):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise CuratorError(f"sample selection: indices[{pos}] = {value!r} is not a non-negative integer")
        if value >= n_total:
            raise CuratorError(f"sample selection: index {value} is past the end of the {n_total}-image test set")
        if out and value <= out[-1]:
            # Sorted and distinct, so that a selection has one spelling and one indices_sha256.
            raise CuratorError(f"sample selection: indices must be strictly increasing (indices[{pos}] = {value} "
                               f"after {out[-1]}); sort them and drop repeats")
        out.append(value)
    return out


def read_indices_file(selection: dict[str, Any], base_dir: str | Path | None) -> list[int]:
    """The index list of an ``indices_file`` selection: ``path`` inside ``base_dir`` (symlinks and
    ``..`` resolved, still inside), at most :data:`MAX_INDICES_FILE_BYTES`, bytes matching
    ``sha256``; a JSON list of integers, or integers separated by commas or whitespace."""
    rel, want = selection.get("path"), str(selection.get("sha256") or "").lower()
    if not isinstance(rel, str) or not rel or not want:
        raise CuratorError("sample selection 'indices_file' needs 'path' and 'sha256'")
    if base_dir is None:
        raise CuratorError("sample selection 'indices_file' is read from the entry's folder; none was given")
    folder = Path(base_dir).resolve()
    target = (folder / rel).resolve()
    if Path(rel).is_absolute() or folder not in target.parents:
        raise CuratorError(f"sample selection: indices file {rel!r} resolves outside the entry's folder {folder}")
    try:
        with open(target, "rb") as fh:
            data = fh.read(MAX_INDICES_FILE_BYTES + 1)
    except OSError as exc:
        raise CuratorError(f"sample selection: cannot read indices file {target}: {exc.strerror or exc}") from None
    if len(data) > MAX_INDICES_FILE_BYTES:
        raise CuratorError(f"sample selection: {target} is larger than {MAX_INDICES_FILE_BYTES} bytes")
    got = hashlib.sha256(data).hexdigest()
    if got != want:
        raise CuratorError(f"sample selection: {target}: sha256 {got} does not match the claim's {want}")
    text = data.decode("utf-8", errors="replace").strip()
    try:
        values = json.loads(text) if text.startswith("[") else [int(t) for t in text.replace(",", " ").split()]
    except ValueError:
        raise CuratorError(f"sample selection: {target}: not a JSON list or a list of integers") from None
    return values


def claim_indices_sha256(selection: dict[str, Any] | None, n_total: int, base_dir: str | Path | None = None) -> str:
    """:func:`indices_sha256` of a claim's whole selection (what a report covering it must carry)."""
    return indices_sha256(select_indices(selection, n_total, base_dir=base_dir))


def indices_sha256(indices: Sequence[int]) -> str:
    """sha256 of the indices written as comma-separated decimals (``"0,20,40"``), UTF-8."""
    return hashlib.sha256(",".join(str(int(i)) for i in indices).encode("ascii")).hexdigest()


def shard(indices: Sequence[int], i: int, n: int) -> list[int]:
    """Shard ``i`` of ``n`` (0-based): a contiguous block of the index list.

    Blocks differ in length by at most one (the first ``len % n`` get one more), keep the list's
    order, and the ``n`` shards of one run concatenate back to exactly ``indices`` — so shard
    reports merge by concatenation and no sample is run twice or skipped. Contiguous rather than
    strided so that each shard's report covers one range of the per-sample log.
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise CuratorError(f"shard count must be a positive integer, got {n!r}")
    if isinstance(i, bool) or not isinstance(i, int) or not 0 <= i < n:
        raise CuratorError(f"shard index must be in 0..{n - 1}, got {i!r}")
    size, extra = divmod(len(indices), n)
    start = i * size + min(i, extra)
    stop = start + size + (1 if i < extra else 0)
    return list(indices[start:stop])


def parse_shard(text: str) -> tuple[int, int]:
    """``--shard i/n`` as every command takes it (``verify``, ``benchmark run``, ``ci reverify-shard``
    and the jobs ``ci plan`` lists): **1-based**, ``1/4`` … ``4/4``, digits only. Returns the
    **0-based** ``(i - 1, n)`` that :func:`shard` and a report's ``shard.index`` use; a shard report's
    file name (``<id>.shard-<i>-of-<n>.json``) shows the 1-based ``i`` again.

    Anything else (``0/4``, ``5/4``, ``1/0``, ``01/4``, ``x``) is a :class:`~curator.core.errors.UsageError`.
    """
    m = re.fullmatch(r"([1-9][0-9]*)/([1-9][0-9]*)", text or "")
    if not m or int(m.group(1)) > int(m.group(2)):
        raise UsageError(f"--shard must be i/n with 1 ≤ i ≤ n (1-based, e.g. 1/4), got {text!r}")
    return int(m.group(1)) - 1, int(m.group(2))


def _covered(doc: dict[str, Any]) -> list[int]:
    return doc["shard"].get("merged_from") or [doc["shard"]["index"]]


def shards_of_one_run(docs: Sequence[dict[str, Any]], names: Sequence[str], same: Sequence[str],
                      error: type[CuratorError]) -> tuple[list[dict[str, Any]], int]:
    """The shard documents (reports or benchmark results) of one run in shard order, and the run's
    shard count. Raises ``error`` unless they are exactly the complete shards of one run: the same
    ``shard.run_id`` and count, equal parts named in ``same``, every shard once (an already merged
    document covers the shards in its ``merged_from``), none missing, no index outside the count."""
    first = docs[0]
    count = first["shard"]["count"]
    for name, d in zip(names[1:], docs[1:], strict=True):
        if d["shard"]["run_id"] != first["shard"]["run_id"] or d["shard"]["count"] != count:
            raise error(f"{name} belongs to another run (run_id {d['shard']['run_id']}, {d['shard']['count']} shards) "
                        f"than {names[0]} (run_id {first['shard']['run_id']}, {count} shards)")
        for key in same:
            if canonical_bytes(d.get(key)) != canonical_bytes(first.get(key)):
                raise error(f"{name} and {names[0]} differ in {key!r}: they are not shards of one run")
    parts: dict[int, str] = {}
    for name, d in zip(names, docs, strict=True):
        for i in _covered(d):
            if i in parts:
                raise error(f"shard {i + 1}/{count} is given twice ({parts[i]} and {name})")
            parts[i] = name
    missing = [i + 1 for i in range(count) if i not in parts]
    if missing:
        raise error(f"missing shard(s) {', '.join(map(str, missing))} of {count}: cannot merge an incomplete run")
    outside = [name for name, d in zip(names, docs, strict=True) if not 0 <= d["shard"]["index"] < count]
    if outside:
        raise error(f"{', '.join(outside)}: shard index outside 0..{count - 1}")
    return sorted(docs, key=lambda d: min(_covered(d))), count


def merged_shard(first: dict[str, Any], count: int) -> dict[str, Any]:
    """The ``shard`` block of a document merged from all ``count`` shards of ``first``'s run."""
    return {"index": 0, "count": count, "run_id": first["shard"]["run_id"], "merged_from": list(range(count))}


def sum_timings(docs: Sequence[dict[str, Any]]) -> dict[str, float]:
    """Each timing summed over the shards (CPU-seconds spent, not the wall time of the run)."""
    out: dict[str, float] = {}
    for d in docs:
        for k, v in (d.get("timings") or {}).items():
            out[k] = out.get(k, 0.0) + v
    return out
