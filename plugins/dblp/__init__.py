"""dblp scraper: the publication search API (``/search/publ/api?q=…&format=json``).

Answers titles. Among the hits whose normalised title matches (difflib ratio ≥ 0.9), a
peer-reviewed publication is preferred over its CoRR (arXiv) record, so dblp also links
preprints to their published versions. Base URL: ``CURATOR_DBLP_URL`` (default
``https://dblp.org/search/publ/api``).
"""

from __future__ import annotations

import re
from typing import Any

from curator.api import PaperRecord, Scraper, hookimpl, papers
from curator.api.http import HttpClient, NotFound, Response, ScrapeError, base_url

__version__ = "1.0.0"

DEFAULT_URL = "https://dblp.org/search/publ/api"
TITLE_THRESHOLD = papers.TITLE_MATCH_THRESHOLD


def _as_list(x: Any) -> list:
    # dblp's JSON turns one-element lists into the element itself.
    if x is None:
        return []
    return x if isinstance(x, list) else [x]


def _author_name(a: Any) -> str:
    name = a.get("text", "") if isinstance(a, dict) else str(a)
    return re.sub(r"\s+\d{4}$", "", name.strip())  # "Bohang Zhang 0001" → homonym number dropped


def record_from_info(info: dict[str, Any]) -> PaperRecord:
    title = re.sub(r"\.\s*$", "", " ".join(str(info.get("title", "")).split()))
    authors = [_author_name(a) for a in _as_list((info.get("authors") or {}).get("author"))]
    year = int(info["year"]) if str(info.get("year", "")).isdigit() else None
    venue = info.get("venue")
    if isinstance(venue, list):
        venue = venue[0] if venue else None
    ees = [e for e in _as_list(info.get("ee")) if isinstance(e, str)]
    arxiv = next((papers.arxiv_id(e) for e in ees if papers.arxiv_id(e)), None)
    openreview = next((papers.openreview_id(e) for e in ees if papers.openreview_id(e)), None)
    doi = info.get("doi") if isinstance(info.get("doi"), str) else None
    if venue == "CoRR":
        venue = None
        if arxiv is None and isinstance(info.get("volume"), str):
            arxiv = papers.arxiv_id(info["volume"].removeprefix("abs/"))
    url = ees[0] if ees else info.get("url")
    return PaperRecord(
        title=title,
        authors=[a for a in authors if a],
        year=year,
        venue=papers.short_venue(venue, year) if isinstance(venue, str) else None,
        arxiv=arxiv,
        doi=None if (doi or "").lower().startswith("10.48550/") else doi,
        openreview=openreview,
        url=url if isinstance(url, str) else None,
        source="dblp",
    )


def parse_search(response: Response, title: str) -> PaperRecord:
    doc = response.json()
    try:
        hits = doc["result"]["hits"]
    except (KeyError, TypeError):
        raise ScrapeError(f"dblp: answer has no result.hits ({response.url})") from None
    candidates = []
    for hit in _as_list(hits.get("hit") if isinstance(hits, dict) else None):
        info = hit.get("info") if isinstance(hit, dict) else None
        if not isinstance(info, dict) or not info.get("title"):
            continue
        score = papers.title_similarity(str(info["title"]), title)
        if score >= TITLE_THRESHOLD:
            informal = info.get("venue") == "CoRR" or info.get("type") == "Informal and Other Publications"
            candidates.append((not informal, score, info))
    if not candidates:
        raise NotFound(f"dblp: no publication titled {title!r}")
    candidates.sort(key=lambda c: (c[0], c[1]), reverse=True)
    return record_from_info(candidates[0][2])


class DblpScraper(Scraper):
    name = "dblp"
    version = __version__
    description = "dblp publication search: titles → published venue, year, DOI"
    patterns = ("a paper title",)
    priority = 30

    def matches(self, ref: str) -> bool:
        return papers.classify(ref).kind == "title"

    def resolve(self, ref: str, http: HttpClient) -> PaperRecord:
        title = papers.classify(ref).value
        return http.get(base_url("dblp", DEFAULT_URL), service="dblp", params={"q": title, "format": "json", "h": "10"},
                        accept="application/json", parse=lambda r: parse_search(r, title))


@hookimpl
def register_scrapers(register):
    register(DblpScraper())
