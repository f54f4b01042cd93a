"""HTTP for the scrapers: polite, cached, bounded, and one clear error per failure.

:class:`HttpClient` wraps a :class:`requests.Session` with

* connect/read timeouts (``CURATOR_HTTP_TIMEOUT`` seconds for reads, default 30);
* retries with exponential backoff on 429/5xx, timeouts, dropped connections and truncated bodies,
  honouring ``Retry-After`` up to :attr:`HttpClient.max_retry_after` seconds (a server asking for
  longer fails at once instead of hanging the command);
* a per-service minimum interval between requests (arXiv asks for one request every 3 s), scaled
  by ``CURATOR_RATE_LIMIT_SCALE`` (``0`` disables waiting, for tests against a local server);
* the User-Agent, retry rule and cache root of :mod:`curator.core.http_policy`, which the model
  downloads share;
* per-request headers (an API key) that are sent but are no part of the cache key;
* an on-disk response cache (``<cache root>/http``) whose entries expire
  after ``CURATOR_CACHE_TTL`` seconds (default 30 days). A response is cached only after the
  caller's parser accepted it, so a malformed or truncated body is never stored;
* ``offline=True`` (``--offline``): answers only from the cache, expired entries included, and a
  miss is an error naming the URL.

Every failure is a :class:`ScrapeError` whose message is one line naming the service, the URL and
what went wrong (404 → :class:`NotFound`, which callers use to fall back to another service).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlencode
from xml.etree import ElementTree

import requests

from curator.core.errors import CuratorError
from curator.core.http_policy import (
    DEFAULT_MAX_RETRY_AFTER,
    RETRY_STATUSES,
    GaveUp,
    RetryPolicy,
    Transient,
    cache_root,
    default_retries,
    env_number,
    user_agent,
)
from curator.core.jsonio import write_bytes_atomic

T = TypeVar("T")

DEFAULT_TTL = 30 * 24 * 3600.0
DEFAULT_MAX_BYTES = 8 * 1024 * 1024

# Minimum seconds between two requests to one service (before CURATOR_RATE_LIMIT_SCALE).
# arXiv's API terms ask for one request every three seconds; Semantic Scholar's unauthenticated
# pool allows about one per second; dblp and the proceedings sites are small academic servers.
SERVICE_INTERVALS: dict[str, float] = {
    "arxiv": 3.0,
    "arxiv-eprint": 3.0,
    "semantic-scholar": 1.0,
    "dblp": 1.0,
    "openreview": 0.5,
    "crossref": 0.2,
    "doi": 0.2,
    "proceedings": 1.0,
}
DEFAULT_INTERVAL = 1.0


class ScrapeError(CuratorError):
    """A metadata or source download failed; the message is one line for the user."""


class NotFound(ScrapeError):
    """The service answered that the paper does not exist (HTTP 404/410, or an empty result)."""


def base_url(name: str, default: str) -> str:
    """``CURATOR_<NAME>_URL`` when set (tests, mirrors), else ``default``; no trailing slash."""
    env = "CURATOR_" + re.sub(r"[^A-Z0-9]", "_", name.upper()) + "_URL"
    value = os.environ.get(env, "").strip() or default
    return value.rstrip("/")


@dataclass
class Response:
    """A complete (fully read, length-checked) HTTP response."""

    url: str
    status: int
    headers: dict[str, str]
    content: bytes
    service: str
    from_cache: bool = False

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip().lower()

    def text(self) -> str:
        m = re.search(r"charset=([\w-]+)", self.headers.get("content-type", ""), re.I)
        encoding = m.group(1) if m else "utf-8"
        try:
            return self.content.decode(encoding)
        except (UnicodeDecodeError, LookupError):
            raise ScrapeError(f"{self.service}: response is not valid {encoding} text ({self.url})") from None

    def json(self) -> Any:
        text = self.text()
        if not text.strip():
            raise ScrapeError(f"{self.service}: empty response where JSON was expected ({self.url})")
        try:
            return json.loads(text)
        except ValueError as exc:
            msg = getattr(exc, "msg", str(exc))
            raise ScrapeError(f"{self.service}: malformed JSON ({msg}, char {getattr(exc, 'pos', '?')}; truncated?) ({self.url})") from None

    def xml(self) -> ElementTree.Element:
        # ElementTree never fetches external entities and expat (≥ 2.4.1) caps entity expansion.
        if b"<!ENTITY" in self.content[:4096]:
            raise ScrapeError(f"{self.service}: XML with entity declarations refused ({self.url})")
        try:
            return ElementTree.fromstring(self.content)
        except ElementTree.ParseError as exc:
            raise ScrapeError(f"{self.service}: malformed XML ({exc}; truncated?) ({self.url})") from None


@dataclass
class HttpClient:
    """One client per command run; see the module docstring for the guarantees."""

    offline: bool = False
    cache_dir: Path | None = None
    ttl: float | None = None
    connect_timeout: float = 10.0
    read_timeout: float | None = None
    retries: int | None = None  # extra attempts after the first; None: CURATOR_HTTP_RETRIES or 3
    backoff: float = 1.0  # seconds before the first retry, doubled each time (scaled)
    max_retry_after: float = DEFAULT_MAX_RETRY_AFTER
    rate_scale: float | None = None
    intervals: dict[str, float] = field(default_factory=lambda: dict(SERVICE_INTERVALS))
    use_cache: bool = True
    session: requests.Session | None = None
    sleep: Callable[[float], None] = time.sleep
    _last: dict[str, float] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.cache_dir is None:
            self.cache_dir = cache_root() / "http"
        if self.ttl is None:
            self.ttl = env_number("CURATOR_CACHE_TTL", DEFAULT_TTL)
        if self.read_timeout is None:
            self.read_timeout = env_number("CURATOR_HTTP_TIMEOUT", 30.0)
        if self.rate_scale is None:
            self.rate_scale = env_number("CURATOR_RATE_LIMIT_SCALE", 1.0)
        if self.retries is None:
            self.retries = default_retries()
        if self.session is None:
            self.session = requests.Session()
        self.session.headers["User-Agent"] = user_agent()
        self.requests_made = 0

    # ------------------------------------------------------------------ public

    def get(
        self,
        url: str,
        *,
        service: str,
        params: Mapping[str, Any] | None = None,
        accept: str | None = None,
        parse: Callable[[Response], T] | None = None,
        max_bytes: int = DEFAULT_MAX_BYTES,
        cache: bool = True,
        headers: Mapping[str, str] | None = None,
    ) -> T:
        """GET ``url`` and return ``parse(response)`` (the :class:`Response` itself without a parser).

        The parser runs before anything is cached; if it raises :class:`ScrapeError` the cache is
        left untouched. Cached answers are used while fresh (or always, offline). ``headers`` go
        out with the request but not into the cache key: they must not change the answer's
        content (an API key buys rate limit, not a different paper).
        """
        parse = parse or (lambda r: r)  # type: ignore[assignment,return-value]
        full_url = url + ("?" + urlencode(sorted(params.items())) if params else "")
        key = self._cache_key(full_url, accept)
        use_cache = cache and self.use_cache
        if use_cache:
            cached = self._cache_read(service, key, full_url)
            if cached is not None:
                age = time.time() - cached[1]
                if self.offline or age <= self.ttl:
                    try:
                        return parse(cached[0])
                    except ScrapeError:
                        if self.offline:
                            raise
                        # A bad cached body (older curator, disk trouble) is refetched.
        if self.offline:
            raise ScrapeError(f"{service}: offline and no cached response for {full_url} (run once without --offline)")
        sent = dict(headers or {})
        if accept:
            sent["Accept"] = accept
        response = self._fetch(full_url, service, sent, max_bytes)
        result = parse(response)
        if use_cache:
            self._cache_write(service, key, full_url, response)
        return result

    def get_json(self, url: str, *, service: str, **kw: Any) -> Any:
        return self.get(url, service=service, parse=Response.json, accept=kw.pop("accept", "application/json"), **kw)

    def get_xml(self, url: str, *, service: str, **kw: Any) -> ElementTree.Element:
        return self.get(url, service=service, parse=Response.xml, **kw)

    def get_text(self, url: str, *, service: str, **kw: Any) -> str:
        return self.get(url, service=service, parse=Response.text, **kw)

    # ------------------------------------------------------------------ network

    def _interval(self, service: str) -> float:
        return self.intervals.get(service, DEFAULT_INTERVAL) * (self.rate_scale or 0.0)

    def _wait_turn(self, service: str) -> None:
        interval = self._interval(service)
        last = self._last.get(service)
        if last is not None and interval > 0:
            remaining = last + interval - time.monotonic()
            if remaining > 0:
                self.sleep(remaining)
        self._last[service] = time.monotonic()

    def _fetch(self, url: str, service: str, headers: dict[str, str], max_bytes: int) -> Response:
        policy = RetryPolicy(self.retries, self.backoff * (self.rate_scale or 0.0), self.max_retry_after)

        def attempt() -> Response:
            self._wait_turn(service)
            self.requests_made += 1
            return self._attempt(url, service, headers, max_bytes)

        try:
            return policy.run(attempt, sleep=self.sleep)
        except GaveUp as exc:
            raise ScrapeError(f"{service}: {exc.describe()} ({url})") from None

    def _attempt(self, url: str, service: str, headers: dict[str, str], max_bytes: int) -> Response:
        """One GET; a failure worth retrying is :class:`Transient`, any other a :class:`ScrapeError`."""
        try:
            resp = self.session.get(
                url, headers=headers, timeout=(self.connect_timeout, self.read_timeout), stream=True, allow_redirects=True
            )
            with resp:
                status = resp.status_code
                if status in RETRY_STATUSES:
                    raise Transient.from_status(status, resp.reason, resp.headers.get("Retry-After"))
                if status in (404, 410):
                    raise NotFound(f"{service}: not found (HTTP {status}) ({url})")
                if status >= 400:
                    raise ScrapeError(f"{service}: HTTP {status} {resp.reason or ''} ({url})".replace("  ", " "))
                body = _read_bounded(resp, max_bytes, service, url)
                headers_seen = {k.lower(): v for k, v in resp.headers.items()}
                return Response(url=resp.url or url, status=status, headers=headers_seen, content=body, service=service)
        except requests.exceptions.Timeout:
            raise Transient(f"timed out (connect {self.connect_timeout:g} s, read {self.read_timeout:g} s)") from None
        except (requests.exceptions.ChunkedEncodingError, requests.exceptions.ContentDecodingError, _Truncated):
            raise Transient("truncated response (the connection closed before the announced length)") from None
        except requests.exceptions.ConnectionError as exc:
            raise Transient(f"cannot connect ({_short(exc)})") from None
        except requests.exceptions.InvalidURL as exc:
            raise ScrapeError(f"{service}: invalid URL {url}: {_short(exc)}") from None
        except requests.exceptions.RequestException as exc:
            raise ScrapeError(f"{service}: request failed: {_short(exc)} ({url})") from None

    # ------------------------------------------------------------------ cache

    @staticmethod
    def _cache_key(full_url: str, accept: str | None) -> str:
        return hashlib.sha256(f"GET {full_url}\nAccept: {accept or ''}".encode()).hexdigest()

    def _cache_file(self, service: str, key: str) -> Path:
        safe = re.sub(r"[^a-z0-9-]", "_", service.lower()) or "misc"
        return Path(self.cache_dir) / safe / key[:2] / key

    def _cache_read(self, service: str, key: str, full_url: str) -> tuple[Response, float] | None:
        path = self._cache_file(service, key)
        try:
            raw = path.read_bytes()
        except OSError:
            return None
        # One file: a JSON header line, then the body bytes exactly as received.
        head, sep, body = raw.partition(b"\n")
        if not sep:
            return None
        try:
            meta = json.loads(head)
            if meta.get("url") != full_url or len(body) != meta.get("length"):
                return None
            resp = Response(
                url=meta.get("final_url") or full_url,
                status=int(meta["status"]),
                headers=dict(meta.get("headers") or {}),
                content=body,
                service=service,
                from_cache=True,
            )
            return resp, float(meta["fetched_at"])
        except (ValueError, KeyError, TypeError):
            return None

    def _cache_write(self, service: str, key: str, full_url: str, response: Response) -> None:
        meta = {
            "url": full_url,
            "final_url": response.url,
            "status": response.status,
            "headers": {k: v for k, v in response.headers.items() if k in ("content-type", "content-encoding", "last-modified", "etag")},
            "fetched_at": time.time(),
            "length": len(response.content),
        }
        try:
            write_bytes_atomic(self._cache_file(service, key), json.dumps(meta).encode() + b"\n" + response.content)
        except OSError:
            pass  # a read-only or full cache disk must not fail the command; the answer is still right


class _Truncated(Exception):
    pass


def _read_bounded(resp: requests.Response, max_bytes: int, service: str, url: str) -> bytes:
    declared = resp.headers.get("Content-Length")
    if declared and declared.isdigit() and int(declared) > max_bytes:
        raise ScrapeError(f"{service}: response of {int(declared)} bytes is over the {max_bytes}-byte limit ({url})")
    chunks: list[bytes] = []
    total = 0
    for chunk in resp.iter_content(64 * 1024):
        total += len(chunk)
        if total > max_bytes:
            raise ScrapeError(f"{service}: response is over the {max_bytes}-byte limit ({url})")
        chunks.append(chunk)
    body = b"".join(chunks)
    # urllib3 checks Content-Length for identity bodies; a gzip-encoded body is checked on the wire
    # length only, so compare here too when no transfer coding could explain a difference.
    if declared and declared.isdigit() and not resp.headers.get("Content-Encoding") and len(body) < int(declared):
        raise _Truncated()
    return body


def _short(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    # urllib3 wraps causes in long reprs; keep the innermost reason.
    m = re.search(r"\(Caused by (\w+)\(", text)
    if m:
        return m.group(1)
    return text[:200]
