"""Reading untrusted JSON with a size cap, and writing files atomically (temp file + rename)."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import re
import tempfile
from pathlib import Path
from typing import Any

from curator.core.errors import CuratorError, Problem

MAX_JSON_BYTES = 4 * 1024 * 1024  # an entry is a few KiB; a report with per-sample arrays a few MiB
# A re-verification report holds per-sample arrays of a whole test set (about 2 MB for 10,000 images).
MAX_REPORT_BYTES = 64 * 1024 * 1024


class JsonFileError(CuratorError):
    """A file that is not acceptable JSON; carries the :class:`Problem` for ``validate`` output."""

    def __init__(self, problem: Problem):
        super().__init__(str(problem))
        self.problem = problem


def _reject_constant(name: str) -> Any:
    # NaN and Infinity are not JSON; Python's parser accepts them unless told otherwise.
    raise ValueError(f"{name} is not valid JSON")


def read_json(path: str | os.PathLike, max_bytes: int = MAX_JSON_BYTES) -> Any:
    """Parse a JSON file, refusing huge files, invalid UTF-8, NaN/Infinity and non-JSON."""
    p = Path(path)
    try:
        size = p.stat().st_size
    except OSError as exc:
        raise JsonFileError(Problem(str(p), "", f"cannot read: {exc.strerror or exc}")) from None
    if not p.is_file():
        raise JsonFileError(Problem(str(p), "", "not a regular file"))
    if size > max_bytes:
        raise JsonFileError(Problem(str(p), "", f"file is {size} bytes, over the {max_bytes}-byte limit"))
    try:
        raw = p.read_bytes()[: max_bytes + 1]
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise JsonFileError(Problem(str(p), "", f"not UTF-8 text (byte {exc.start})")) from None
    except OSError as exc:
        raise JsonFileError(Problem(str(p), "", f"cannot read: {exc.strerror or exc}")) from None
    return loads(text, str(p))


def _unique_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # {"id": "a", …, "id": "b"}: a reviewer reads the first, Python keeps the last. Refused.
    out = dict(pairs)
    if len(out) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise ValueError(f"duplicate key {key!r} in one object")
            seen.add(key)
    return out


_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")


def loads(text: str, filename: str = "<string>") -> Any:
    """Parse JSON text: NaN/Infinity, duplicate keys and unpaired surrogate escapes are refused
    (a lone ``\\ud800`` parses but cannot be written back as UTF-8, so it would fail later, far
    from the file that carried it)."""
    try:
        data = json.loads(text, parse_constant=_reject_constant, object_pairs_hook=_unique_pairs)
        if _SURROGATE_ESCAPE.search(text):
            try:
                json.dumps(data, ensure_ascii=False).encode("utf-8")
            except UnicodeEncodeError:
                raise ValueError("unpaired UTF-16 surrogate escape (\\ud800-\\udfff) in a string") from None
        return data
    except RecursionError:
        raise JsonFileError(Problem(filename, "", "JSON nested too deeply")) from None
    except ValueError as exc:
        lineno = getattr(exc, "lineno", None)
        where = f" (line {exc.lineno}, column {exc.colno})" if lineno else ""
        msg = getattr(exc, "msg", str(exc))
        raise JsonFileError(Problem(filename, "", f"malformed JSON: {msg}{where}")) from None


def dumps(data: Any) -> str:
    """The repository's JSON style: 2-space indent, UTF-8, trailing newline, stable order."""
    return json.dumps(data, indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def canonical_bytes(data: Any) -> bytes:
    """Key-sorted compact JSON: the form hashed for digests (independent of file formatting)."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode("utf-8")


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(chunk), b""):
            h.update(block)
    return h.hexdigest()


def write_bytes_atomic(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see the old file or the new one, never half."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=p.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, p)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    write_bytes_atomic(path, text.encode("utf-8"))


def write_json_atomic(path: str | os.PathLike, data: Any) -> None:
    write_text_atomic(path, dumps(data))


def read_capped(source: str | os.PathLike | bytes, max_bytes: int, error: type[CuratorError],
                kind: str = "file") -> tuple[bytes, str]:
    """The bytes of a file (or of ``source`` itself), gunzipped when they start with the gzip
    magic, and a name for messages. Raises ``error`` when the file or its decompressed content is
    over ``max_bytes``; decompression stops one byte past the cap, so a gzip bomb is never inflated."""
    if isinstance(source, (bytes, bytearray)):
        raw, name = bytes(source), "<bytes>"
    else:
        path = Path(source)
        name = str(path)
        try:
            if path.stat().st_size > max_bytes:
                raise error(f"{name}: file larger than {max_bytes} bytes")
            raw = path.read_bytes()
        except OSError as exc:
            raise error(f"{name}: cannot read {kind}: {exc.strerror or exc}") from exc
    if raw[:2] == b"\x1f\x8b":
        try:
            with gzip.GzipFile(fileobj=io.BytesIO(raw)) as gz:
                raw = gz.read(max_bytes + 1)
        except (OSError, EOFError) as exc:
            raise error(f"{name}: broken gzip data: {exc}") from exc
    if len(raw) > max_bytes:
        raise error(f"{name}: {kind} larger than {max_bytes} bytes once decompressed")
    return raw, name
