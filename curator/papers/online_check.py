"""``curator validate --online``: an entry's paper block against what the services say.

:func:`check_online` scrapes the entry's paper by its strongest identifier (arXiv id, then
OpenReview id, DOI, URL, and the title last) and compares:

* **title** — difflib ratio of the normalised titles (:func:`curator.core.paperid.normalise_title`)
  must be ≥ :data:`TITLE_SIMILARITY_THRESHOLD` (0.9). 0.9 accepts case, punctuation, accents,
  LaTeX markup and a changed word or two in a 10-word title ("L-infinity" vs "L-inf"); a different
  paper scores far below (typically < 0.6);
* **year** — one of the years the services give: the record's, or its published version's (an
  ICLR 2023 paper first posted on arXiv in 2022 may say either);
* **authors** — every listed author's family name appears among the record's, and the first
  authors agree; an empty list is a warning (``curator enrich`` fills it);
* **ids** — an arXiv id / DOI / OpenReview id in the entry equals the record's when the record has
  one.

A service that cannot be reached (or rate-limits us) gives a *warning*, so CI does not fail on
someone else's outage; "no such paper" is an error.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from curator.api import PaperRecord, Scraper
from curator.core.errors import Problem
from curator.core.paperid import normalise_title
from curator.core.refs import TITLE_MATCH_THRESHOLD, title_similarity
from curator.papers.http import HttpClient, NotFound, ScrapeError
from curator.papers.scrape import link_published, resolve

TITLE_SIMILARITY_THRESHOLD = TITLE_MATCH_THRESHOLD


def strongest_ref(paper: dict[str, Any]) -> str:
    for key in ("arxiv", "openreview", "doi"):
        value = paper.get(key)
        if isinstance(value, str) and value:
            return f"{key}:{value}"
    url = paper.get("url")
    if isinstance(url, str) and url:
        return url
    return str(paper.get("title", ""))


def _family(name: str) -> str:
    words = normalise_title(name).split()
    return words[-1] if words else ""


def compare(paper: dict[str, Any], record: PaperRecord, file: str, published: PaperRecord | None = None) -> list[Problem]:
    """The problems of ``paper`` (an entry's block) measured against ``record``."""
    out: list[Problem] = []
    src = record.source or "the service"
    title = paper.get("title", "")
    ratio = title_similarity(title, record.title)
    if ratio < TITLE_SIMILARITY_THRESHOLD:
        out.append(Problem(file, "/paper/title",
                           f"title differs from {src}'s {record.title!r} (similarity {ratio:.2f} < {TITLE_SIMILARITY_THRESHOLD})"))
    years = {y for y in (record.year, published.year if published else None) if y is not None}
    year = paper.get("year")
    if year is None and years:
        out.append(Problem(file, "/paper/year", f"no year; {src} says {min(years)}", "warning"))
    elif year is not None and years and year not in years:
        said = " or ".join(str(y) for y in sorted(years))
        out.append(Problem(file, "/paper/year", f"year {year} disagrees with {src} ({said})"))
    authors = [a for a in paper.get("authors") or [] if isinstance(a, str)]
    if not authors and record.authors:
        out.append(Problem(file, "/paper/authors", f"no authors; {src} lists {len(record.authors)} (curator enrich fills them)", "warning"))
    elif authors and record.authors:
        theirs = {_family(a) for a in record.authors}
        missing = [a for a in authors if _family(a) not in theirs]
        if missing:
            out.append(Problem(file, "/paper/authors", f"not among {src}'s authors: {', '.join(missing)}"))
        elif _family(authors[0]) != _family(record.authors[0]):
            out.append(Problem(file, "/paper/authors/0", f"first author {authors[0]!r}, {src} has {record.authors[0]!r}"))
    for key in ("arxiv", "doi", "openreview"):
        mine, theirs_id = paper.get(key), getattr(record, key)
        if isinstance(mine, str) and theirs_id and mine.lower() != theirs_id.lower():
            out.append(Problem(file, f"/paper/{key}", f"{key} {mine} but {src} says {theirs_id}"))
    return out


def check_online(
    entry: dict[str, Any],
    path: str,
    *,
    scrapers: Iterable[Scraper] | None = None,
    http: HttpClient | None = None,
) -> list[Problem]:
    """Problems found by comparing ``entry['paper']`` with the scraped record (see module doc)."""
    paper = entry.get("paper")
    if not isinstance(paper, dict):
        return [Problem(path, "/paper", "no paper block to check")]
    if scrapers is None:
        from curator.api.registry import get_registry

        scrapers = get_registry().all("scraper")
    scrapers = list(scrapers)
    http = http or HttpClient()
    ref = strongest_ref(paper)
    try:
        record = resolve(ref, scrapers, http)
    except NotFound as exc:
        return [Problem(path, "/paper", f"paper not found online: {exc}")]
    except ScrapeError as exc:
        return [Problem(path, "/paper", f"could not check online: {exc}", "warning")]
    published = None
    year = paper.get("year")
    if year is not None and record.year is not None and year != record.year:
        try:
            published = link_published(record, scrapers, http)
        except ScrapeError:
            published = None
    return compare(paper, record, path, published)
