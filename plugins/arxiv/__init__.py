"""arXiv scraper: the export API's Atom feed (``/api/query?id_list=ID``).

Understands new-style (``2210.04871``) and old-style (``cs/0501001``) ids, with or without a
version, as ``arxiv:ID``, bare ids, and ``arxiv.org/abs/…`` or ``/pdf/…`` URLs. The record
carries the version-free id. Base URL: ``CURATOR_ARXIV_URL`` (default
``http://export.arxiv.org/api/query``). arXiv asks for one request every 3 s; the HTTP client
keeps to that.
"""

from __future__ import annotations

from xml.etree import ElementTree

from curator.api import PaperRecord, Scraper, hookimpl, papers
from curator.api.http import HttpClient, NotFound, Response, ScrapeError, base_url

__version__ = "1.0.0"

DEFAULT_URL = "http://export.arxiv.org/api/query"
ATOM = "{http://www.w3.org/2005/Atom}"
ARXIV = "{http://arxiv.org/schemas/atom}"
OPENSEARCH = "{http://a9.com/-/spec/opensearch/1.1/}"


def _text(el: ElementTree.Element | None) -> str:
    return " ".join((el.text or "").split()) if el is not None else ""


def parse_feed(response: Response, wanted: str) -> PaperRecord:
    """The record for ``wanted`` in an export-API feed; NotFound/ScrapeError otherwise."""
    root = response.xml()
    where = f"({response.url})"
    if root.tag != f"{ATOM}feed":
        raise ScrapeError(f"arxiv: expected an Atom feed, got <{root.tag}> {where}")
    entries = root.findall(f"{ATOM}entry")
    for entry in entries:
        entry_id = _text(entry.find(f"{ATOM}id"))
        if "/api/errors" in entry_id:
            # The API reports bad ids as an entry titled "Error" whose summary says why.
            raise NotFound(f"arxiv: {_text(entry.find(f'{ATOM}summary')) or 'error'} {where}")
    total = _text(root.find(f"{OPENSEARCH}totalResults"))
    if not entries or total == "0":
        raise NotFound(f"arxiv: no paper with id {wanted} {where}")
    entry = entries[0]
    got = papers.arxiv_id(_text(entry.find(f"{ATOM}id")))
    title = _text(entry.find(f"{ATOM}title"))
    if got is None or not title:
        # Unknown but well-formed ids come back as an entry without id/title.
        raise NotFound(f"arxiv: no paper with id {wanted} {where}")
    if got != wanted:
        raise ScrapeError(f"arxiv: asked for {wanted}, the feed describes {got} {where}")
    authors = [_text(a.find(f"{ATOM}name")) for a in entry.findall(f"{ATOM}author")]
    published = _text(entry.find(f"{ATOM}published"))
    year = int(published[:4]) if published[:4].isdigit() else None
    doi = _text(entry.find(f"{ARXIV}doi")) or None
    return PaperRecord(
        title=title,
        authors=[a for a in authors if a],
        year=year,
        venue=None,
        arxiv=got,
        doi=doi,
        url=f"https://arxiv.org/abs/{got}",
        pdf_url=f"https://arxiv.org/pdf/{got}",
        abstract=_text(entry.find(f"{ATOM}summary")) or None,
        source="arxiv",
    )


class ArxivScraper(Scraper):
    name = "arxiv"
    version = __version__
    description = "arXiv export API (Atom): titles, authors, first-version year, DOI"
    patterns = ("arxiv:ID", "https://arxiv.org/abs/ID[vN]", "https://arxiv.org/pdf/ID[vN]", "2210.04871", "cs/0501001")
    priority = 10

    def matches(self, ref: str) -> bool:
        return papers.arxiv_id(ref) is not None

    def resolve(self, ref: str, http: HttpClient) -> PaperRecord:
        wanted = papers.arxiv_id(ref)
        if wanted is None:
            raise ScrapeError(f"arxiv: {ref!r} is not an arXiv id or URL")
        return http.get(
            base_url("arxiv", DEFAULT_URL),
            service="arxiv",
            params={"id_list": wanted, "max_results": "1"},
            parse=lambda r: parse_feed(r, wanted),
        )


@hookimpl
def register_scrapers(register):
    register(ArxivScraper())
