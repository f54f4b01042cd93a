"""DOI scraper: Crossref REST (``/works/{doi}``), falling back to doi.org content negotiation
(``Accept: application/vnd.citationstyles.csl+json``) for DOIs that Crossref does not hold
(DataCite DOIs such as arXiv's ``10.48550/…``).

Base URLs: ``CURATOR_CROSSREF_URL`` (default ``https://api.crossref.org``) and
``CURATOR_DOI_URL`` (default ``https://doi.org``).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from curator.api import PaperRecord, Scraper, hookimpl, papers
from curator.api.http import HttpClient, NotFound, Response, ScrapeError, base_url

__version__ = "1.0.0"

CROSSREF_URL = "https://api.crossref.org"
DOI_URL = "https://doi.org"
CSL_JSON = "application/vnd.citationstyles.csl+json"


def _year(work: dict[str, Any]) -> int | None:
    for key in ("published-print", "published-online", "published", "issued", "created"):
        parts = (work.get(key) or {}).get("date-parts") if isinstance(work.get(key), dict) else None
        if parts and isinstance(parts[0], list) and parts[0] and isinstance(parts[0][0], int):
            return parts[0][0]
    return None


def _first(x: Any) -> str | None:
    if isinstance(x, list):
        x = x[0] if x else None
    return " ".join(x.split()) if isinstance(x, str) and x.strip() else None


def _authors(work: dict[str, Any]) -> list[str]:
    out = []
    for a in work.get("author") or []:
        if not isinstance(a, dict):
            continue
        name = " ".join(p for p in (a.get("given"), a.get("family")) if isinstance(p, str) and p) or a.get("name") or a.get("literal")
        if isinstance(name, str) and name.strip():
            out.append(" ".join(name.split()))
    return out


def record_from_work(work: Any, doi: str, source: str, where: str) -> PaperRecord:
    """Crossref ``message`` and CSL-JSON share field names (title is a list in Crossref only)."""
    if not isinstance(work, dict):
        raise ScrapeError(f"{source}: answer is not a work record ({where})")
    title = _first(work.get("title"))
    if not title:
        raise ScrapeError(f"{source}: work {doi} has no title ({where})")
    year = _year(work)
    event = work.get("event")
    venue = _first(work.get("container-title")) or (_first(event.get("name")) if isinstance(event, dict) else None)
    canonical = work.get("DOI") if isinstance(work.get("DOI"), str) else doi
    arxiv = None
    if canonical.lower().startswith("10.48550/arxiv."):
        arxiv = papers.arxiv_id(canonical[len("10.48550/arxiv."):])
    pdf = None
    for link in work.get("link") or []:
        if isinstance(link, dict) and link.get("content-type") == "application/pdf" and isinstance(link.get("URL"), str):
            pdf = link["URL"]
            break
    return PaperRecord(
        title=title,
        authors=_authors(work),
        year=year,
        venue=papers.short_venue(venue, year) if venue else None,
        arxiv=arxiv,
        doi=canonical,
        url=f"https://doi.org/{canonical}",
        pdf_url=pdf,
        abstract=None,
        source=source,
    )


def parse_crossref(r: Response, doi: str) -> PaperRecord:
    doc = r.json()
    if not isinstance(doc, dict) or doc.get("status") != "ok" or "message" not in doc:
        raise ScrapeError(f"doi: Crossref answer is not {{status: ok, message}} ({r.url})")
    return record_from_work(doc["message"], doi, "doi", r.url)


class DoiScraper(Scraper):
    name = "doi"
    version = __version__
    description = "Crossref REST works, doi.org CSL-JSON content negotiation as fallback"
    patterns = ("doi:10.NNNN/…", "https://doi.org/10.NNNN/…", "10.NNNN/…")
    priority = 10

    def matches(self, ref: str) -> bool:
        return papers.doi(ref) is not None

    def resolve(self, ref: str, http: HttpClient) -> PaperRecord:
        doi = papers.doi(ref)
        if doi is None:
            raise ScrapeError(f"doi: {ref!r} is not a DOI")
        quoted = quote(doi, safe="/:;()")
        try:
            return http.get(f"{base_url('crossref', CROSSREF_URL)}/works/{quoted}", service="crossref",
                            accept="application/json", parse=lambda r: parse_crossref(r, doi))
        except NotFound:
            pass  # not a Crossref DOI: ask the DOI resolver itself
        return http.get(f"{base_url('doi', DOI_URL)}/{quoted}", service="doi", accept=CSL_JSON,
                        parse=lambda r: record_from_work(r.json(), doi, "doi", r.url))


@hookimpl
def register_scrapers(register):
    register(DoiScraper())
