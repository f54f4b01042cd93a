"""OpenReview scraper: API v2 (``/notes?id=``), falling back to API v1 for older venues.

Understands ``openreview:ID`` and ``openreview.net/forum?id=…`` / ``/pdf?id=…`` URLs. Base URLs:
``CURATOR_OPENREVIEW_URL`` (default ``https://api2.openreview.net``) and
``CURATOR_OPENREVIEW_V1_URL`` (default ``https://api.openreview.net``). Venues pre-2023 (ICLR
2018-2022, NeurIPS 2021-2022) live in API v1, whose ``content`` values are plain; API v2 wraps
each in ``{"value": …}``.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from curator.api import PaperRecord, Scraper, hookimpl, papers
from curator.api.http import HttpClient, NotFound, Response, ScrapeError, base_url

__version__ = "1.0.0"

V2_URL = "https://api2.openreview.net"
V1_URL = "https://api.openreview.net"


def _value(content: dict[str, Any], key: str) -> Any:
    v = content.get(key)
    if isinstance(v, dict) and "value" in v:  # API v2
        return v["value"]
    return v


def _venue_and_year(note: dict[str, Any], content: dict[str, Any]) -> tuple[str | None, int | None]:
    venue = _value(content, "venue")
    venueid = _value(content, "venueid") or ""
    invitation = note.get("invitation") or (note.get("invitations") or [""])[0]
    year = None
    for text in (venue, venueid, invitation):
        if isinstance(text, str):
            m = re.search(r"\b(20\d\d)\b", text)
            if m:
                year = int(m.group(1))
                break
    if isinstance(venue, str) and venue.strip():
        if re.search(r"submitted to|withdrawn|desk rejected|rejected", venue, re.I):
            venue = None  # not a publication
        else:
            # "ICLR 2024 poster", "NeurIPS 2022 Accept" → the venue and year only
            # "ICLR 2024 poster", "NeurIPS 2022 Accept" → "ICLR", "NeurIPS" (the year is kept apart)
            status = r"\s+(poster|oral|spotlight|notable[- ]top[- ]\d+%|accept\w*|main|conference)\b.*$"
            venue = papers.short_venue(re.sub(status, "", venue.strip(), flags=re.I))
    else:
        venue = None
        m = re.match(r"^([A-Za-z]+)\.cc/(20\d\d)/Conference", invitation or venueid or "")
        if m and "Blind_Submission" not in (invitation or "") and "Submission" not in (invitation or ""):
            venue = papers.short_venue(m.group(1))
    if year is None:
        ms = note.get("pdate") or note.get("odate") or note.get("cdate") or note.get("tcdate")
        if isinstance(ms, (int, float)) and ms > 0:
            year = datetime.fromtimestamp(ms / 1000, tz=UTC).year
    return venue, year


def parse_notes(response: Response, wanted: str) -> PaperRecord | None:
    """The record of note ``wanted``; None when the answer lists no note (try the other API)."""
    doc = response.json()
    if not isinstance(doc, dict) or not isinstance(doc.get("notes"), list):
        raise ScrapeError(f"openreview: answer has no 'notes' list ({response.url})")
    notes = [n for n in doc["notes"] if isinstance(n, dict)]
    if not notes:
        return None
    note = next((n for n in notes if n.get("id") == wanted), notes[0])
    content = note.get("content")
    if not isinstance(content, dict):
        raise ScrapeError(f"openreview: note {wanted} has no content ({response.url})")
    title = _value(content, "title")
    if not isinstance(title, str) or not title.strip():
        raise ScrapeError(f"openreview: note {wanted} has no title ({response.url})")
    authors = _value(content, "authors") or []
    if not isinstance(authors, list):
        authors = []
    venue, year = _venue_and_year(note, content)
    forum = note.get("forum") or wanted
    abstract = _value(content, "abstract")
    return PaperRecord(
        title=" ".join(title.split()),
        authors=[" ".join(str(a).split()) for a in authors if str(a).strip()],
        year=year,
        venue=venue,
        openreview=forum,
        url=f"https://openreview.net/forum?id={forum}",
        pdf_url=f"https://openreview.net/pdf?id={forum}",
        abstract=" ".join(abstract.split()) if isinstance(abstract, str) else None,
        source="openreview",
    )


class OpenReviewScraper(Scraper):
    name = "openreview"
    version = __version__
    description = "OpenReview API v2 (v1 fallback): title, authors, venue decision, year"
    patterns = ("openreview:ID", "https://openreview.net/forum?id=ID", "https://openreview.net/pdf?id=ID")
    priority = 10

    def matches(self, ref: str) -> bool:
        return papers.openreview_id(ref) is not None

    def resolve(self, ref: str, http: HttpClient) -> PaperRecord:
        wanted = papers.openreview_id(ref)
        if wanted is None:
            raise ScrapeError(f"openreview: {ref!r} is not an OpenReview id or URL")
        for base in (base_url("openreview", V2_URL), base_url("openreview_v1", V1_URL)):
            try:
                record = http.get(
                    f"{base}/notes", service="openreview", params={"id": wanted},
                    accept="application/json", parse=lambda r: parse_notes(r, wanted),
                )
            except NotFound:
                continue
            if record is not None:
                return record
        raise NotFound(f"openreview: no note with id {wanted} in API v2 or v1")


@hookimpl
def register_scrapers(register):
    register(OpenReviewScraper())
