"""HTTP for scrapers: the client curator hands to :meth:`curator.api.Scraper.resolve`.

A scraper receives an :class:`HttpClient` (one per command run: polite per-service intervals,
retries with back-off, a response cache, a size cap, offline mode) and should make every request
through it rather than open its own connections. What a scraper may use:

- ``HttpClient.get(url, service=..., params=..., accept=..., parse=...)`` and the :class:`Response` it
  parses;
- :class:`ScrapeError` (a failed look-up; the message reaches the user) and :class:`NotFound` (the
  service answered that it does not know the reference: the next scraper is asked);
- :func:`base_url` (a service's base URL, overridable through ``CURATOR_<NAME>_URL`` so tests point a
  scraper at a local server).

Stability: the names in ``__all__`` are plugin API; a change to them is made together with
docs/plugins.md and the bundled scrapers. The client's tuning fields (intervals, timeouts, cache
settings) belong to the host and may change.
"""

from curator.papers.http import HttpClient, NotFound, Response, ScrapeError, base_url

__all__ = ["HttpClient", "NotFound", "Response", "ScrapeError", "base_url"]
