"""Proceedings scraper: conference pages read through their ``citation_*`` meta tags
(the Highwire tags Google Scholar indexes).

Sites: NeurIPS proceedings (``proceedings.neurips.cc``, ``papers.nips.cc``), PMLR
(``proceedings.mlr.press``), CVF open access (``openaccess.thecvf.com``) and IJCAI
(``www.ijcai.org``). A PDF link is mapped to its HTML abstract page first
(:func:`curator.api.papers.proceedings_page_url`, also the duplicate key of such papers). For a mirror or a
test server set ``CURATOR_PROCEEDINGS_URL``: ``https://HOST/PATH`` is then fetched as
``$CURATOR_PROCEEDINGS_URL/HOST/PATH``.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from urllib.parse import urlsplit

from curator.api import PaperRecord, Scraper, hookimpl, papers
from curator.api.http import HttpClient, Response, ScrapeError, base_url

__version__ = "1.0.0"

HOSTS = {
    "proceedings.neurips.cc": "NeurIPS",
    "papers.nips.cc": "NeurIPS",
    "papers.neurips.cc": "NeurIPS",
    "proceedings.mlr.press": None,  # PMLR hosts many venues: read the conference title
    "openaccess.thecvf.com": None,  # the path names the venue: content_ICCV_2019, CVPR2023
    "www.ijcai.org": "IJCAI",
    "ijcai.org": "IJCAI",
}


class _MetaReader(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.meta: dict[str, list[str]] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag != "meta":
            return
        a = {k.lower(): (v or "") for k, v in attrs}
        name = (a.get("name") or a.get("property") or "").strip().lower()
        if name.startswith("citation_") and "content" in a:
            self.meta.setdefault(name, []).append(" ".join(a["content"].split()))


def _person(name: str) -> str:
    """Highwire authors are usually "Family, Given"."""
    if "," in name:
        family, given = name.split(",", 1)
        return f"{given.strip()} {family.strip()}".strip()
    return name.strip()


def parse_page(response: Response, page_url: str) -> PaperRecord:
    reader = _MetaReader()
    try:
        reader.feed(response.text())
        reader.close()
    except Exception as exc:  # html.parser is lenient; anything it raises means garbage
        raise ScrapeError(f"proceedings: unreadable HTML ({exc}) ({response.url})") from None
    meta = reader.meta
    title = (meta.get("citation_title") or [""])[0]
    if not title:
        raise ScrapeError(f"proceedings: the page has no citation_title meta tag ({response.url})")
    date = (meta.get("citation_publication_date") or meta.get("citation_date") or meta.get("citation_year") or [""])[0]
    m = re.search(r"(19|20)\d\d", date)
    year = int(m.group(0)) if m else None
    parts = urlsplit(page_url)
    host = (parts.hostname or "").lower()
    venue_name = HOSTS.get(host)
    if host == "openaccess.thecvf.com":
        vm = re.search(r"(ICCV|CVPR|ECCV|WACV)_?(\d{4})", parts.path)
        if vm:
            venue_name = vm.group(1)
            year = year or int(vm.group(2))
    if venue_name is None:
        venue_name = (meta.get("citation_conference_title") or meta.get("citation_journal_title")
                      or meta.get("citation_book_title") or [None])[0]
    doi = (meta.get("citation_doi") or [None])[0]
    arxiv = (meta.get("citation_arxiv_id") or [None])[0]
    pdf = (meta.get("citation_pdf_url") or [None])[0]
    return PaperRecord(
        title=title,
        authors=[_person(a) for a in meta.get("citation_author", []) if a.strip()],
        year=year,
        venue=papers.short_venue(venue_name, year) if venue_name else None,
        arxiv=papers.arxiv_id(arxiv) if arxiv else None,
        doi=doi if doi and papers.doi(doi) else None,
        url=page_url,
        pdf_url=pdf,
        abstract=(meta.get("citation_abstract") or [None])[0],
        source="proceedings",
    )


class ProceedingsScraper(Scraper):
    name = "proceedings"
    version = __version__
    description = "NeurIPS, PMLR, CVF open access and IJCAI pages via citation_* meta tags"
    patterns = tuple(f"https://{h}/…"
                     for h in ("proceedings.neurips.cc", "proceedings.mlr.press", "openaccess.thecvf.com", "www.ijcai.org"))
    priority = 20

    def matches(self, ref: str) -> bool:
        if not papers.is_url(ref):
            return False
        return papers.proceedings_page_url(ref) is not None

    def resolve(self, ref: str, http: HttpClient) -> PaperRecord:
        if not self.matches(ref):
            raise ScrapeError(f"proceedings: {ref!r} is not a page of a known proceedings site")
        page = papers.proceedings_page_url(ref)
        assert page is not None  # matches() checked the host
        fetch = page
        mirror = base_url("proceedings", "")
        if mirror:
            parts = urlsplit(page)
            fetch = f"{mirror}/{parts.hostname}{parts.path}" + (f"?{parts.query}" if parts.query else "")
        return http.get(fetch, service="proceedings", accept="text/html", parse=lambda r: parse_page(r, page))


@hookimpl
def register_scrapers(register):
    register(ProceedingsScraper())
