"""Paper identity: the keys under which two records are recognised as the same paper.

A paper is known by its arXiv id, DOI, OpenReview id and normalised title; any one shared key
means "same paper". ``validate`` uses this for its duplicate check, the importer to spot a
paper listed under two spellings or links, and the scrapers to normalise references.
"""

from __future__ import annotations

import html
import re
import unicodedata
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

# New-style ids (0704.0001 onwards: YYMM.NNNN, 5 digits from 2015) and old-style (archive/YYMMNNN).
_NEW_ID = r"[0-9]{4}\.[0-9]{4,5}"
_OLD_ID = r"[a-z-]+(?:\.[A-Z]{2})?/[0-9]{7}"
_ARXIV_ID_RE = re.compile(rf"^(?P<id>{_NEW_ID}|{_OLD_ID})(?:v[0-9]+)?$")
_ARXIV_URL_RE = re.compile(
    rf"^(?:https?://)?(?:www\.|export\.)?arxiv\.org/(?:abs|pdf|html|format)/(?P<id>{_NEW_ID}|{_OLD_ID})(?:v[0-9]+)?(?:\.pdf)?/?$",
    re.IGNORECASE,
)
_ARXIV_DOI_RE = re.compile(rf"^10\.48550/arxiv\.(?P<id>{_NEW_ID})$", re.IGNORECASE)
_OPENREVIEW_ID_RE = re.compile(r"^[A-Za-z0-9_-]{5,40}$")
_DOI_RE = re.compile(r"^10\.[0-9]{4,9}/\S+$")
_DOI_URL_RE = re.compile(r"^(?:https?://)?(?:dx\.)?doi\.org/(?P<doi>10\.[0-9]{4,9}/\S+)$", re.IGNORECASE)

_HTML_TAG_RE = re.compile(r"<[^>]*>")
# \command, \command{arg} keeps arg; math delimiters \( \) \[ \] and $ go away.
_LATEX_CMD_RE = re.compile(r"\\([A-Za-z]+)\s*")
_LATEX_ESCAPE_RE = re.compile(r"\\(.)")
_NON_WORD_RE = re.compile(r"[^0-9a-z]+")
# Written out forms that mean the same in titles ("L-infinity", "\ell_\infty", "ℓ∞").
_GREEK = {"ell": "l", "infty": "infinity", "epsilon": "epsilon", "varepsilon": "epsilon"}


def normalise_title(title: str) -> str:
    """A comparison key for a title: casefolded ASCII words separated by single spaces.

    LaTeX commands (``\\ell_\\infty`` → ``l infinity``), math delimiters, HTML tags and entities,
    accents and punctuation are dropped, so "Certified Training: Small Boxes are All You Need"
    and "certified training — small boxes are all you need." give the same key.
    """
    if not isinstance(title, str):
        return ""
    text = html.unescape(_HTML_TAG_RE.sub(" ", title))
    text = text.replace("ℓ", " l ").replace("∞", " infinity ")
    text = _LATEX_CMD_RE.sub(lambda m: " " + _GREEK.get(m.group(1), m.group(1)) + " ", text)
    text = _LATEX_ESCAPE_RE.sub(r" \1 ", text)
    text = unicodedata.normalize("NFKD", text)
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).casefold()
    return _NON_WORD_RE.sub(" ", text).strip()


def arxiv_id(ref: str | None) -> str | None:
    """The version-less arXiv id in a bare id (``2210.04871v2``), ``arXiv:…``, an arxiv.org URL
    or an arXiv DOI; ``None`` when ``ref`` is none of these."""
    if not isinstance(ref, str):
        return None
    ref = ref.strip()
    if ref.lower().startswith("arxiv:"):
        ref = ref[6:].strip()
    m = _ARXIV_ID_RE.match(ref)
    if m:
        return m.group("id")
    m = _ARXIV_DOI_RE.match(ref)
    if m:
        return m.group("id")
    return arxiv_id_from_url(ref)


def arxiv_id_from_url(url: str | None) -> str | None:
    """``https://arxiv.org/abs/2210.04871v2`` or ``…/pdf/2210.04871.pdf`` → ``2210.04871``;
    old-style ``…/abs/cs/0112017`` → ``cs/0112017``. ``None`` for any other URL."""
    if not isinstance(url, str):
        return None
    m = _ARXIV_URL_RE.match(url.strip().split("#", 1)[0].split("?", 1)[0])
    return m.group("id") if m else None


def _split(url: str):
    """``urlsplit`` that answers ``None`` for what it cannot split (``http://[`` raises ValueError;
    the schema's url pattern lets it through, and one odd URL must not crash ``validate``)."""
    try:
        return urlsplit(url.strip())
    except ValueError:
        return None


def openreview_id_from_url(url: str | None) -> str | None:
    """``https://openreview.net/forum?id=AQ9UL-7UvZx`` or ``…/pdf?id=…`` → ``AQ9UL-7UvZx``."""
    if not isinstance(url, str):
        return None
    parts = _split(url)
    if parts is None:
        return None
    host = (parts.hostname or "").lower()
    if host not in ("openreview.net", "www.openreview.net"):
        return None
    if parts.path.rstrip("/") not in ("/forum", "/pdf", "/attachment"):
        return None
    ids = parse_qs(parts.query).get("id")
    if not ids or not _OPENREVIEW_ID_RE.match(ids[0]):
        return None
    return ids[0]


def doi_from_ref(ref: str | None) -> str | None:
    """A DOI (``10.x/…``) from a bare DOI, ``doi:…`` or a doi.org URL, lowercased (DOIs are
    case-insensitive); ``None`` otherwise."""
    if not isinstance(ref, str):
        return None
    ref = ref.strip()
    if ref.lower().startswith("doi:"):
        ref = ref[4:].strip()
    m = _DOI_URL_RE.match(ref)
    if m:
        ref = unquote(m.group("doi"))
    return ref.lower() if _DOI_RE.match(ref) else None


# Proceedings sites whose pages (and PDFs) identify one paper each; other hosts are aliases.
PROCEEDINGS_HOSTS = {
    "proceedings.neurips.cc": "proceedings.neurips.cc",
    "papers.nips.cc": "proceedings.neurips.cc",
    "papers.neurips.cc": "proceedings.neurips.cc",
    "proceedings.mlr.press": "proceedings.mlr.press",
    "openaccess.thecvf.com": "openaccess.thecvf.com",
    "www.ijcai.org": "www.ijcai.org",
    "ijcai.org": "www.ijcai.org",
}


def proceedings_page_url(url: str | None) -> str | None:
    """The canonical abstract-page URL of a NeurIPS / PMLR / CVF / IJCAI paper link, or None.

    ``http://proceedings.mlr.press/v139/zhang21b/zhang21b.pdf`` and
    ``https://proceedings.mlr.press/v139/zhang21b.html`` give the same page; likewise a NeurIPS
    ``file/…-Paper.pdf`` and its ``hash/…-Abstract.html``, a CVF ``papers/….pdf`` and its
    ``html/….html``, and IJCAI's ``Proceedings/2019/0654.pdf`` and ``proceedings/2019/654``.
    """
    if not isinstance(url, str):
        return None
    parts = _split(url)
    if parts is None:
        return None
    host = PROCEEDINGS_HOSTS.get((parts.hostname or "").lower())
    if host is None or parts.scheme.lower() not in ("http", "https"):
        return None
    path = unquote(parts.path).rstrip("/")
    if host == "www.ijcai.org":
        m = re.match(r"^/proceedings/(\d{4})/0*(\d+)(?:\.pdf)?$", path, re.IGNORECASE)
        if m:
            path = f"/proceedings/{m.group(1)}/{int(m.group(2))}"
    elif host == "proceedings.mlr.press":
        m = re.match(r"^/(v\d+)/([^/]+)/\2\.pdf$", path)
        if m:
            path = f"/{m.group(1)}/{m.group(2)}.html"
    elif host == "openaccess.thecvf.com":
        m = re.match(r"^(/content_?[^/]+|/content/[^/]+)/papers/(.+)\.pdf$", path)
        if m:
            path = f"{m.group(1)}/html/{m.group(2)}.html"
    else:
        m = re.match(r"^(/paper(?:_files/paper)?/\d{4})/file/([0-9a-f]+)-Paper(-[A-Za-z_]+)?\.pdf$", path)
        if m:
            path = f"{m.group(1)}/hash/{m.group(2)}-Abstract{m.group(3) or ''}.html"
    return f"https://{host}{path}"


def paper_keys(paper: dict[str, Any] | None) -> set[str]:
    """Every identity key of an entry's ``paper`` block.

    ``{"arxiv:2210.04871", "doi:10.…", "openreview:…", "title:certified training small boxes …"}``;
    ids come from the explicit fields and from the URL; a proceedings page (NeurIPS, PMLR, CVF,
    IJCAI) gives ``url:<canonical page>`` so that its PDF and HTML links meet. Two papers sharing
    any key are the same paper. An arXiv DOI (10.48550/arXiv.X) yields the arxiv key too.
    """
    if not isinstance(paper, dict):
        return set()
    keys: set[str] = set()
    url = paper.get("url")
    for candidate in (paper.get("arxiv"), url, paper.get("doi")):
        aid = arxiv_id(candidate)
        if aid:
            keys.add(f"arxiv:{aid}")
    for candidate in (paper.get("doi"), url):
        doi = doi_from_ref(candidate)
        if doi:
            keys.add(f"doi:{doi}")
    orid = paper.get("openreview")
    if isinstance(orid, str) and _OPENREVIEW_ID_RE.match(orid):
        keys.add(f"openreview:{orid}")
    orid = openreview_id_from_url(url)
    if orid:
        keys.add(f"openreview:{orid}")
    page = proceedings_page_url(url)
    if page:
        keys.add(f"url:{page}")
    title = normalise_title(paper.get("title", ""))
    if title:
        keys.add(f"title:{title}")
    return keys
