"""Downloading and caching of pinned artifacts (model weights, dataset archives).

Guarantee: :func:`fetch` returns a path only to a file whose sha256 equals one of the pinned
hashes. Nothing reaches the cache before the hash matched: the body is streamed into a temp file
beside the cache entry and renamed onto ``<cache>/artifacts/<sha256>`` only after verification, so
an interrupted or wrong download never leaves a half-written artifact behind.

Cache hits are re-hashed every time (no "trusted" sidecar mark). Hashing runs at ~1 GB/s, far
below the cost of any verification, and it means a cache entry that was corrupted or replaced on
disk is detected and re-downloaded instead of being loaded.
"""

from __future__ import annotations

import hashlib
import os
import re
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from collections.abc import Iterable, Sequence
from pathlib import Path

from curator.core.errors import CuratorError
from curator.core.http_policy import RETRY_STATUSES, GaveUp, RetryPolicy, Transient, cache_root, default_retries, user_agent
from curator.core.jsonio import sha256_file

__all__ = [
    "ArtifactError",
    "DEFAULT_MAX_BYTES",
    "default_cache_dir",
    "fetch",
    "fetch_any",
    "file_sha256",
    "find_local",
]

DEFAULT_MAX_BYTES = 2 * 1024**3  # 2 GiB: larger than any model on the board, small enough to bound a hostile URL
CHUNK = 1 << 20
SHA256_RE = re.compile(r"^[0-9a-f]{64}$")


class ArtifactError(CuratorError):
    """An artifact could not be obtained or failed its integrity check."""


# The cache root every download shares; artifacts live in its ``artifacts/`` subfolder.
default_cache_dir = cache_root


def file_sha256(path: str | os.PathLike) -> str:
    return sha256_file(path, CHUNK)


def _normalise_hashes(sha256: str | Iterable[str]) -> tuple[str, ...]:
    hashes = (sha256,) if isinstance(sha256, str) else tuple(sha256)
    out = tuple(h.strip().lower() for h in hashes)
    if not out:
        raise ArtifactError("no sha256 given: every artifact must be pinned")
    for h in out:
        if not SHA256_RE.match(h):
            raise ArtifactError(f"invalid sha256 {h!r} (expected 64 lowercase hex digits)")
    return out


def _describe_expected(hashes: Sequence[str]) -> str:
    return hashes[0] if len(hashes) == 1 else "one of " + ", ".join(hashes)


def find_local(candidates: Iterable[Path], sha256: str | Iterable[str]) -> Path | None:
    """The first existing file among ``candidates`` whose sha256 is pinned; a file that exists
    with the wrong hash is an error (the user put something else there), not silently skipped."""
    hashes = _normalise_hashes(sha256)
    for path in candidates:
        if path.is_file():
            actual = file_sha256(path)
            if actual not in hashes:
                raise ArtifactError(f"{path}: sha256 mismatch: expected {_describe_expected(hashes)}, got {actual}")
            return path
    return None


def _cached(cache: Path, hashes: Sequence[str]) -> Path | None:
    for h in hashes:
        path = cache / h
        if path.is_file():
            if file_sha256(path) == h:
                return path
            # A corrupted entry is dropped and fetched again.
            try:
                path.unlink()
            except OSError:
                pass
    return None


def fetch(
    url: str,
    sha256: str | Iterable[str],
    cache_dir: str | os.PathLike | None = None,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    timeout: tuple[float, float] = (10, 60),
    retries: int | None = None,
    progress: bool = True,
    backoff: float = 1.0,
    allow_html: bool = False,
    max_seconds: float | None = 3600.0,
) -> Path:
    """Download ``url`` (``http``, ``https`` or ``file``) into the cache and return its path.

    ``sha256`` pins the content (a hex digest, or several accepted digests when the same content is
    published in more than one byte-exact form). The result is ``<cache>/artifacts/<sha256>``; an
    existing entry is re-hashed and reused without any network access. Retries follow
    :mod:`curator.core.http_policy` (the scrapers' rule): ``retries`` extra attempts (default
    ``CURATOR_HTTP_RETRIES`` or 3) on connection errors, timeouts, truncated bodies, 5xx and 429
    answers, waiting ``backoff · 2^attempt`` seconds or the server's ``Retry-After`` (one asking for
    more than a minute fails at once). The size cap is
    enforced from ``Content-Length`` before reading and again while streaming. An HTML body
    (``text/html`` or a body starting like a page) is rejected unless ``allow_html``: a link to a
    landing or login page instead of the file is the most common bad model URL. ``max_seconds``
    bounds one attempt's total transfer time (``timeout`` only bounds each connect/read), so a
    server trickling bytes cannot hold a run forever: an attempt ends within ``max_seconds`` plus
    one read timeout.
    """
    hashes = _normalise_hashes(sha256)
    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    store = cache / "artifacts"
    hit = _cached(store, hashes)
    if hit is not None:
        return hit
    try:
        scheme = urllib.parse.urlsplit(url).scheme.lower()
    except ValueError as exc:  # "http://[": unsplittable
        raise ArtifactError(f"{url}: not a URL ({exc})") from None
    if scheme not in ("http", "https", "file"):
        raise ArtifactError(f"{url}: unsupported URL scheme {scheme!r} (use http, https or file)")
    try:
        store.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=".download-", suffix=".part", dir=store)
    except OSError as exc:
        raise ArtifactError(f"cache folder {store} is not writable ({exc.strerror or exc}); set --cache-dir or CURATOR_CACHE") from None
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            if scheme == "file":
                actual = _copy_file(url, out, max_bytes, allow_html, progress)
            else:
                actual = _download_with_retries(
                    url, out, max_bytes=max_bytes, timeout=timeout, retries=retries, progress=progress,
                    backoff=backoff, allow_html=allow_html, max_seconds=max_seconds,
                )
            out.flush()
            os.fsync(out.fileno())
        if actual not in hashes:
            raise ArtifactError(f"{url}: sha256 mismatch: expected {_describe_expected(hashes)}, got {actual}")
        final = store / actual
        os.replace(tmp, final)
        return final
    finally:
        if tmp.exists():
            tmp.unlink()


def fetch_any(urls: Sequence[str], sha256: str | Iterable[str], cache_dir: str | os.PathLike | None = None, **kwargs) -> Path:
    """:func:`fetch` from the first of several mirrors that delivers the pinned content.
    Since the hash is pinned, any mirror is as trustworthy as the original."""
    errors = []
    for url in urls:
        try:
            return fetch(url, sha256, cache_dir, **kwargs)
        except ArtifactError as exc:
            errors.append(str(exc))
    raise ArtifactError("no mirror delivered the artifact:\n  " + "\n  ".join(errors))


# --------------------------------------------------------------------------- transport


class _Sink:
    """Writes to the temp file, hashing and counting bytes, enforcing the cap and the HTML check."""

    def __init__(self, out, url: str, max_bytes: int, allow_html: bool, bar, max_seconds: float | None = None) -> None:
        self.out, self.url, self.max_bytes, self.allow_html, self.bar = out, url, max_bytes, allow_html, bar
        self.max_seconds = max_seconds
        self.hash = hashlib.sha256()
        self.count = 0
        self.head = b""
        self.started = time.monotonic()

    def write(self, block: bytes) -> None:
        # The first bytes may arrive in several small reads: judge the accumulated head.
        if self.count < 512 and block and not self.allow_html and _looks_like_html(self.head + block):
            raise ArtifactError(
                f"{self.url}: the server returned an HTML page, not the artifact "
                "(a landing, login or error page? use a direct download link)"
            )
        if self.max_seconds is not None and time.monotonic() - self.started > self.max_seconds:
            raise ArtifactError(f"{self.url}: download took longer than {self.max_seconds:g} s (max_seconds)")
        if self.count < 512:
            self.head = (self.head + block)[:512]
        self.count += len(block)
        if self.count > self.max_bytes:
            raise ArtifactError(f"{self.url}: artifact larger than the {self.max_bytes}-byte limit")
        self.hash.update(block)
        self.out.write(block)
        if self.bar is not None:
            self.bar.update(len(block))

    def reset(self) -> None:
        self.out.seek(0)
        self.out.truncate()
        self.hash = hashlib.sha256()
        self.count = 0
        self.head = b""
        self.started = time.monotonic()
        if self.bar is not None:
            self.bar.reset()


def _looks_like_html(block: bytes) -> bool:
    head = block[:512].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    return head.startswith((b"<!doctype html", b"<html", b"<head", b"<body"))


def _progress_bar(url: str, total: int | None, enabled: bool):
    if not enabled or not sys.stderr.isatty():
        return None
    from tqdm import tqdm

    name = urllib.parse.urlsplit(url).path.rsplit("/", 1)[-1] or url
    return tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024, desc=name, leave=False, file=sys.stderr)


def _copy_file(url: str, out, max_bytes: int, allow_html: bool, progress: bool) -> str:
    path = Path(urllib.request.url2pathname(urllib.parse.urlsplit(url).path))
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise ArtifactError(f"{url}: cannot read: {exc.strerror or exc}") from None
    if size > max_bytes:
        raise ArtifactError(f"{url}: artifact is {size} bytes, over the {max_bytes}-byte limit")
    bar = _progress_bar(url, size, progress)
    sink = _Sink(out, url, max_bytes, allow_html, bar)
    try:
        with open(path, "rb") as fh:
            for block in iter(lambda: fh.read(CHUNK), b""):
                sink.write(block)
    except OSError as exc:
        raise ArtifactError(f"{url}: cannot read: {exc.strerror or exc}") from None
    finally:
        if bar is not None:
            bar.close()
    return sink.hash.hexdigest()


def _download_with_retries(url, out, *, max_bytes, timeout, retries, progress, backoff, allow_html, max_seconds) -> str:
    import requests

    policy = RetryPolicy(default_retries() if retries is None else retries, backoff)
    sink = _Sink(out, url, max_bytes, allow_html, None, max_seconds)
    try:
        with requests.Session() as session:
            session.headers["User-Agent"] = user_agent()
            # The hash pins the bytes the server stores: ask for them without transfer compression.
            session.headers["Accept-Encoding"] = "identity"
            return policy.run(lambda: _attempt_download(session, url, sink, timeout=timeout, progress=progress))
    except GaveUp as exc:
        if exc.refused_wait is not None:
            raise ArtifactError(f"{url}: {exc.describe()}") from None
        raise ArtifactError(f"{url}: download failed after {exc.attempts} attempts: {exc.problem}") from None
    finally:
        if sink.bar is not None:
            sink.bar.close()


def _attempt_download(session, url: str, sink: _Sink, *, timeout, progress: bool) -> str:
    """One GET streamed into ``sink``; its sha256, or :class:`Transient` for a failure worth retrying."""
    import requests

    sink.reset()
    try:
        with session.get(url, stream=True, timeout=timeout, allow_redirects=True) as resp:
            expected = _accepted_length(resp, url, sink)
            if sink.bar is None:
                sink.bar = _progress_bar(url, expected, progress)
            else:
                sink.bar.reset(total=expected)
            # Raw bytes, no transparent decoding: the hash is over what the server stores.
            # read1 returns whatever one socket read brings (stream()/read(n) block until
            # n bytes arrive), so max_seconds is checked on every trickle of a slow drip.
            while block := resp.raw.read1(CHUNK, decode_content=False):
                sink.write(block)
            if expected is not None and sink.count != expected and not resp.headers.get("Content-Encoding"):
                raise Transient(f"truncated body: {sink.count} of {expected} bytes")
            return sink.hash.hexdigest()
    except (ArtifactError, Transient):
        raise
    except requests.TooManyRedirects:
        # A redirect loop is a broken URL, not a transient failure: retrying only repeats it.
        raise ArtifactError(f"{url}: redirect loop (more than {session.max_redirects} redirects)") from None
    except (requests.ConnectionError, requests.Timeout) as exc:
        raise Transient(f"{type(exc).__name__}: {exc}") from None
    except Exception as exc:  # urllib3 protocol errors (IncompleteRead, reset mid-body)
        if type(exc).__module__.startswith(("urllib3", "http.client", "requests")):
            raise Transient(f"{type(exc).__name__}: {exc}") from None
        raise


def _accepted_length(resp, url: str, sink: _Sink) -> int | None:
    """The announced body length of a response worth streaming; a refusal is an error or
    :class:`Transient` (a retryable status)."""
    if resp.status_code in RETRY_STATUSES:
        raise Transient.from_status(resp.status_code, None, resp.headers.get("Retry-After"))
    if resp.status_code != 200:
        raise ArtifactError(f"{url}: HTTP {resp.status_code} {resp.reason or ''}".rstrip())
    ctype = resp.headers.get("Content-Type", "").split(";")[0].strip().lower()
    if ctype == "text/html" and not sink.allow_html:
        raise ArtifactError(
            f"{url}: the server returned an HTML page (Content-Type text/html), not the artifact "
            "(a landing, login or error page? use a direct download link)"
        )
    length = resp.headers.get("Content-Length")
    expected = int(length) if length and length.isdigit() else None
    if expected is not None and expected > sink.max_bytes:
        raise ArtifactError(f"{url}: artifact is {expected} bytes, over the {sink.max_bytes}-byte limit")
    return expected
