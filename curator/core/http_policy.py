"""The one HTTP policy behind every download curator makes.

Both the scrapers' metadata requests (:mod:`curator.papers.http`) and the pinned artifact
downloads (:mod:`curator.verify.artifacts`) follow it, so a mirror or an API sees one client:

* one User-Agent, ``curator/<version> (+<project url>; mailto:<contact>)`` (``CURATOR_CONTACT``
  sets the address: Crossref's polite pool keys on it, and a server operator can write to us);
* one retry rule: :data:`RETRY_STATUSES`, timeouts, dropped connections and truncated bodies are
  transient and tried ``1 + CURATOR_HTTP_RETRIES`` times (3 retries by default), waiting the
  server's ``Retry-After`` or ``backoff · 2^attempt`` seconds; a server asking to wait longer than
  :attr:`RetryPolicy.max_retry_after` fails at once instead of holding the command;
* one cache root (``CURATOR_CACHE`` or the platform cache folder), with one subfolder per kind
  of download.

The module knows nothing of requests or of its callers' errors: a caller turns one attempt's
transient failure into :class:`Transient` and the final outcome of :meth:`RetryPolicy.run`
(:class:`GaveUp`) into its own error message.
"""

from __future__ import annotations

import email.utils
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from curator import __version__
from curator.core.errors import CuratorError

T = TypeVar("T")

PROJECT_URL = "https://github.com/curator-leaderboard/curator"
DEFAULT_CONTACT = "curator-maintainers@users.noreply.github.com"
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
DEFAULT_RETRIES = 3
DEFAULT_MAX_RETRY_AFTER = 60.0


def user_agent() -> str:
    contact = os.environ.get("CURATOR_CONTACT", "").strip() or DEFAULT_CONTACT
    return f"curator/{__version__} (+{PROJECT_URL}; mailto:{contact})"


def cache_root() -> Path:
    """``$CURATOR_CACHE`` when set, else the platform's user cache folder for ``curator``; each
    kind of download keeps a subfolder of it (``http/`` for scrapers, ``artifacts/`` for models)."""
    env = os.environ.get("CURATOR_CACHE", "").strip()
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("curator", appauthor=False))


def env_number(name: str, default: float) -> float:
    """A non-negative number from the environment; a malformed value is an error, not the default."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise CuratorError(f"{name}={raw!r} is not a number") from None
    if value < 0:
        raise CuratorError(f"{name}={raw!r} must not be negative")
    return value


def default_retries() -> int:
    return int(env_number("CURATOR_HTTP_RETRIES", DEFAULT_RETRIES))


def retry_after_seconds(value: str | None) -> float | None:
    """Retry-After is either delta-seconds or an HTTP date (RFC 9110 §10.2.3)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - time.time())


class Transient(Exception):
    """One attempt failed in a way another attempt may not: ``problem`` says how (one line),
    ``retry_after`` is the server's requested wait in seconds, if it named one."""

    def __init__(self, problem: str, retry_after: float | None = None):
        super().__init__(problem)
        self.problem = problem
        self.retry_after = retry_after

    @classmethod
    def from_status(cls, status: int, reason: str | None, retry_after_header: str | None) -> Transient:
        return cls(f"HTTP {status} {reason or ''}".strip(), retry_after_seconds(retry_after_header))


class GaveUp(Exception):
    """Every attempt failed (``refused_wait`` is None), or the server asked to wait
    ``refused_wait`` seconds, over the policy's limit."""

    def __init__(self, problem: str, attempts: int, refused_wait: float | None = None, limit: float = 0.0):
        super().__init__(problem)
        self.problem, self.attempts, self.refused_wait, self.limit = problem, attempts, refused_wait, limit

    def describe(self) -> str:
        """``<problem> after N attempts`` or ``<problem>; the server asks to wait …``."""
        if self.refused_wait is not None:
            return (f"{self.problem}; the server asks to wait {self.refused_wait:.0f} s, over curator's "
                    f"{self.limit:.0f} s limit: try again later")
        return f"{self.problem} after {self.attempts} attempt{'s' if self.attempts > 1 else ''}"


@dataclass(frozen=True)
class RetryPolicy:
    """``retries`` extra attempts after the first; ``backoff`` seconds before the first retry,
    doubled each time, unless the server named its own wait."""

    retries: int = DEFAULT_RETRIES
    backoff: float = 1.0
    max_retry_after: float = DEFAULT_MAX_RETRY_AFTER

    @property
    def attempts(self) -> int:
        return self.retries + 1

    def delay(self, attempt: int, retry_after: float | None) -> float:
        return retry_after if retry_after is not None else self.backoff * (2**attempt)

    def run(self, attempt: Callable[[], T], sleep: Callable[[float], None] = time.sleep) -> T:
        """``attempt()`` until it returns; it raises :class:`Transient` for a failure worth
        retrying (anything else propagates at once). Raises :class:`GaveUp` at the end."""
        for n in range(self.attempts):
            try:
                return attempt()
            except Transient as exc:
                failure = exc
            if failure.retry_after is not None and failure.retry_after > self.max_retry_after:
                raise GaveUp(failure.problem, n + 1, failure.retry_after, self.max_retry_after)
            if n + 1 < self.attempts:
                wait = self.delay(n, failure.retry_after)
                if wait > 0:
                    sleep(wait)
        raise GaveUp(failure.problem, self.attempts)
