"""Semantic Scholar scraper: the Graph API paper endpoint.

Looks papers up by ``ARXIV:id``, ``DOI:doi`` or ``URL:url`` (``/graph/v1/paper/{id}``) and
titles by ``/graph/v1/paper/search/match``. It is the general fallback and the service that
links an arXiv preprint to its published version (``publicationVenue``, ``year``,
``externalIds.DOI``). Base URL: ``CURATOR_S2_URL`` (default
``https://api.semanticscholar.org/graph/v1``). An API key in ``CURATOR_S2_API_KEY`` is sent as
``x-api-key`` (higher rate limits); without one the shared pool allows about 1 request/s.
"""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import quote

from curator.api import PaperRecord, Scraper, hookimpl, papers
from curator.api.http import HttpClient, NotFound, Response, ScrapeError, base_url

__version__ = "1.0.0"

DEFAULT_URL = "https://api.semanticscholar.org/graph/v1"
FIELDS = "title,authors,year,venue,externalIds,publicationVenue,journal,url,abstract,publicationDate,openAccessPdf"
# Title lookups: the best match must be at least this similar (difflib on normalised titles).
TITLE_THRESHOLD = papers.TITLE_MATCH_THRESHOLD


def record_from_paper(paper: Any, where: str) -> PaperRecord:
    if not isinstance(paper, dict) or not isinstance(paper.get("title"), str) or not paper["title"].strip():
        raise ScrapeError(f"semantic-scholar: answer is not a paper with a title ({where})")
    ext = paper.get("externalIds") or {}
    if not isinstance(ext, dict):
        ext = {}
    pv = paper.get("publicationVenue") or {}
    venue_name = (pv.get("name") if isinstance(pv, dict) else None) or paper.get("venue") or None
    if isinstance(venue_name, str) and papers.is_preprint_venue(venue_name):
        venue_name = None
    year = paper.get("year") if isinstance(paper.get("year"), int) else None
    doi = ext.get("DOI") if isinstance(ext.get("DOI"), str) else None
    arxiv = ext.get("ArXiv") if isinstance(ext.get("ArXiv"), str) else None
    arxiv = papers.arxiv_id(arxiv) if arxiv else None
    authors = [a.get("name", "").strip() for a in paper.get("authors") or [] if isinstance(a, dict) and a.get("name")]
    pdf = paper.get("openAccessPdf")
    url = None
    if doi and not doi.lower().startswith("10.48550/"):
        url = f"https://doi.org/{doi}"
    elif arxiv:
        url = f"https://arxiv.org/abs/{arxiv}"
    else:
        url = paper.get("url") if isinstance(paper.get("url"), str) else None
    return PaperRecord(
        title=" ".join(paper["title"].split()),
        authors=authors,
        year=year,
        venue=papers.short_venue(venue_name, year) if venue_name else None,
        arxiv=arxiv,
        doi=doi,
        url=url,
        pdf_url=pdf.get("url") if isinstance(pdf, dict) and pdf.get("url") else None,
        abstract=paper.get("abstract") if isinstance(paper.get("abstract"), str) else None,
        source="semantic-scholar",
    )


def api_key_headers() -> dict[str, str]:
    """``x-api-key`` when ``CURATOR_S2_API_KEY`` is set; read per request, so a key exported
    after import is still sent."""
    key = os.environ.get("CURATOR_S2_API_KEY", "").strip()
    return {"x-api-key": key} if key else {}


class SemanticScholarScraper(Scraper):
    name = "semantic-scholar"
    version = __version__
    description = "Semantic Scholar Graph API: venue/year of published versions, title search"
    patterns = ("arxiv:ID", "doi:DOI", "any paper URL (URL: lookup)", "a title (search/match)")
    priority = 40

    def matches(self, ref: str) -> bool:
        kind = papers.classify(ref).kind
        return kind in ("arxiv", "doi", "url", "title")

    def resolve(self, ref: str, http: HttpClient) -> PaperRecord:
        c = papers.classify(ref)
        base = base_url("s2", DEFAULT_URL)
        if c.kind == "title":
            return self._match_title(c.value, base, http)
        lookup = {"arxiv": f"ARXIV:{c.value}", "doi": f"DOI:{c.value}", "url": f"URL:{c.value}"}.get(c.kind)
        if lookup is None:
            raise ScrapeError(f"semantic-scholar: cannot look up {ref!r}")
        url = f"{base}/paper/{quote(lookup, safe=':/')}"
        return http.get(url, service="semantic-scholar", params={"fields": FIELDS}, accept="application/json",
                        headers=api_key_headers(), parse=lambda r: record_from_paper(r.json(), r.url))

    def _match_title(self, title: str, base: str, http: HttpClient) -> PaperRecord:
        def parse(r: Response) -> PaperRecord:
            doc = r.json()
            data = doc.get("data") if isinstance(doc, dict) else None
            if not isinstance(data, list):
                raise ScrapeError(f"semantic-scholar: search answer has no 'data' list ({r.url})")
            best, best_score = None, 0.0
            for paper in data:
                if isinstance(paper, dict) and isinstance(paper.get("title"), str):
                    score = papers.title_similarity(paper["title"], title)
                    if score > best_score:
                        best, best_score = paper, score
            if best is None or best_score < TITLE_THRESHOLD:
                raise NotFound(f"semantic-scholar: no paper titled {title!r} (best similarity {best_score:.2f} < {TITLE_THRESHOLD})")
            return record_from_paper(best, r.url)

        return http.get(f"{base}/paper/search/match", service="semantic-scholar",
                        params={"query": title, "fields": FIELDS}, accept="application/json",
                        headers=api_key_headers(), parse=parse)


@hookimpl
def register_scrapers(register):
    register(SemanticScholarScraper())
