"""Resolving a reference with the installed scrapers, and turning a record into a paper block.

:func:`resolve` asks every scraper that understands the reference, most specific first
(``priority``, lower first), and returns the first record. A scraper that says "not found" or
fails passes the reference on to the next; when all fail, the error of the most specific one is
raised (one line). :func:`link_published` asks the metadata services for the published version
of an arXiv preprint (venue, year, DOI).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, replace
from typing import Any

from curator.api import PaperRecord, Scraper
from curator.core.refs import TITLE_MATCH_THRESHOLD, title_similarity
from curator.core.venues import is_preprint_venue, short_venue
from curator.papers.http import HttpClient, NotFound, ScrapeError


def ordered_scrapers(ref: str, scrapers: Iterable[Scraper]) -> list[Scraper]:
    chosen = [s for s in scrapers if _safe_matches(s, ref)]
    return sorted(chosen, key=lambda s: (getattr(s, "priority", 50), s.name))


def _safe_matches(scraper: Scraper, ref: str) -> bool:
    try:
        return bool(scraper.matches(ref))
    except Exception:  # a third-party scraper's bug must not hide the others
        return False


def resolve(ref: str, scrapers: Iterable[Scraper], http: HttpClient, only: str | None = None) -> PaperRecord:
    """The record of ``ref`` from the first scraper that answers; ``only`` names one scraper."""
    if not ref or not ref.strip():
        raise ScrapeError("empty paper reference")
    candidates = ordered_scrapers(ref, scrapers)
    if only is not None:
        candidates = [s for s in candidates if s.name == only]
        if not candidates:
            raise ScrapeError(f"scraper {only!r} does not understand {ref!r} (or is not installed)")
    if not candidates:
        raise ScrapeError(f"no installed scraper understands {ref!r}")
    first_error: ScrapeError | None = None
    for scraper in candidates:
        try:
            record = scraper.resolve(ref, http)
        except ScrapeError as exc:
            # Prefer reporting a real failure (network, malformed) over a later "not found".
            if first_error is None or (isinstance(first_error, NotFound) and not isinstance(exc, NotFound)):
                first_error = exc
            continue
        if record.source is None:
            record = replace(record, source=scraper.name)
        return record
    assert first_error is not None
    if len(candidates) > 1:
        tried = ", ".join(s.name for s in candidates)
        raise type(first_error)(f"{first_error} [tried: {tried}]")
    raise first_error


def link_published(record: PaperRecord, scrapers: list[Scraper], http: HttpClient) -> PaperRecord:
    """Fill venue/year/DOI of the published version of a preprint (dblp, then Semantic Scholar).

    A candidate counts only if its title matches (≥ TITLE_MATCH_THRESHOLD) and its venue is not
    a preprint server. Returns ``record`` unchanged when nothing better is found.
    """
    if not is_preprint_venue(record.venue):
        return record
    by_name = {s.name: s for s in scrapers}
    lookups: list[tuple[str, str]] = []
    # dblp first: its year is the venue's; Semantic Scholar's "year" is the first appearance
    # (the preprint's), so it comes second, for papers dblp does not list.
    if "dblp" in by_name and record.title:
        lookups.append(("dblp", record.title))
    if record.arxiv and "semantic-scholar" in by_name:
        lookups.append(("semantic-scholar", f"arxiv:{record.arxiv}"))
    for name, ref in lookups:
        try:
            other = by_name[name].resolve(ref, http)
        except ScrapeError:
            continue
        if is_preprint_venue(other.venue) or title_similarity(other.title, record.title) < TITLE_MATCH_THRESHOLD:
            continue
        return replace(
            record,
            venue=other.venue,
            year=other.year or record.year,
            doi=record.doi or (other.doi if other.doi and not other.doi.lower().startswith("10.48550/") else None),
            authors=record.authors or other.authors,
        )
    return record


def paper_block(record: PaperRecord) -> dict[str, Any]:
    """The entry's ``paper`` object (schema-valid) from a record."""
    url = record.url
    if not url:
        if record.arxiv:
            url = f"https://arxiv.org/abs/{record.arxiv}"
        elif record.doi:
            url = f"https://doi.org/{record.doi}"
        elif record.openreview:
            url = f"https://openreview.net/forum?id={record.openreview}"
    if not url:
        raise ScrapeError(f"the record of {record.title!r} has no URL")
    block: dict[str, Any] = {
        "title": record.title,
        "authors": list(record.authors),
        "year": record.year,
        "url": url,
    }
    venue = short_venue(record.venue, record.year) if record.venue else None
    if venue:
        block["venue"] = venue
    for key in ("arxiv", "doi", "openreview"):
        value = getattr(record, key)
        if value:
            block[key] = value
    return block


def record_dict(record: PaperRecord) -> dict[str, Any]:
    return asdict(record)


