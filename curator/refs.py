"""Paper references as people write them, parsed into canonical identifiers.

A reference is a URL (arxiv.org, openreview.net, doi.org, a proceedings page), a prefixed id
(``arxiv:2210.04871``, ``doi:10.1109/ICCV.2019.00494``, ``openreview:Q76Y7wkiji``) or a title.
Canonical forms: arXiv ids without their version (``2210.04871``, ``cs/0501001``), DOIs as
written but compared case-insensitively (DOIs are case-insensitive by definition), OpenReview
note ids as given (they are case-sensitive).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from urllib.parse import parse_qs, unquote, urlsplit

ARXIV_NEW_RE = r"\d{4}\.\d{4,5}"
ARXIV_OLD_RE = r"[a-z][a-z-]*(?:\.[A-Z]{2})?/\d{7}"
_ARXIV_ID = re.compile(rf"^(?P<id>{ARXIV_NEW_RE}|{ARXIV_OLD_RE})(?:v\d+)?$")
_ARXIV_PATH = re.compile(rf"^/(?:abs|pdf|e-print|src|format)/(?P<id>{ARXIV_NEW_RE}|{ARXIV_OLD_RE})(?:v\d+)?(?:\.pdf)?/?$")
_ARXIV_HOSTS = {"arxiv.org", "www.arxiv.org", "export.arxiv.org", "xxx.lanl.gov"}
_DOI = re.compile(r"^10\.\d{4,9}/\S+$")
_DOI_HOSTS = {"doi.org", "dx.doi.org", "www.doi.org"}
_OPENREVIEW_ID = re.compile(r"^[A-Za-z0-9_-]{5,40}$")
_OPENREVIEW_HOSTS = {"openreview.net", "www.openreview.net"}


def arxiv_id(ref: str) -> str | None:
    """The version-free arXiv id in ``ref`` (``arxiv:ID``, a bare id, an abs/pdf URL), or None."""
    ref = ref.strip()
    low = ref.lower()
    if low.startswith("arxiv:"):
        ref = ref[6:].strip()
    m = _ARXIV_ID.match(ref)
    if m:
        return m.group("id")
    if "://" in ref:
        parts = urlsplit(ref)
        if (parts.hostname or "").lower() in _ARXIV_HOSTS:
            m = _ARXIV_PATH.match(unquote(parts.path))
            if m:
                return m.group("id")
    return None


def doi(ref: str) -> str | None:
    """The DOI in ``ref`` (``doi:10.…``, ``https://doi.org/10.…``, a bare ``10.…/…``), or None."""
    ref = ref.strip()
    if ref.lower().startswith("doi:"):
        ref = ref[4:].strip()
    if "://" in ref:
        parts = urlsplit(ref)
        if (parts.hostname or "").lower() not in _DOI_HOSTS:
            return None
        ref = unquote(parts.path.lstrip("/"))
    return ref if _DOI.match(ref) else None


def openreview_id(ref: str) -> str | None:
    """The note id in ``openreview:ID`` or an openreview.net forum/pdf URL (``?id=``), or None."""
    ref = ref.strip()
    if ref.lower().startswith("openreview:"):
        candidate = ref[11:].strip()
        return candidate if _OPENREVIEW_ID.match(candidate) else None
    if "://" not in ref:
        return None
    parts = urlsplit(ref)
    if (parts.hostname or "").lower() not in _OPENREVIEW_HOSTS:
        return None
    if parts.path.rstrip("/") not in ("/forum", "/pdf", "/attachment"):
        return None
    ids = parse_qs(parts.query).get("id") or []
    if len(ids) == 1 and _OPENREVIEW_ID.match(ids[0]):
        return ids[0]
    return None


def is_url(ref: str) -> bool:
    return bool(re.match(r"^https?://\S+$", ref.strip(), re.I))


@dataclass(frozen=True)
class Ref:
    """A classified reference: ``kind`` is arxiv | doi | openreview | url | title."""

    kind: str
    value: str
    raw: str


def classify(ref: str) -> Ref:
    raw = ref
    ref = ref.strip()
    if (a := arxiv_id(ref)) is not None:
        return Ref("arxiv", a, raw)
    if (d := doi(ref)) is not None:
        return Ref("doi", d, raw)
    if (o := openreview_id(ref)) is not None:
        return Ref("openreview", o, raw)
    if is_url(ref):
        return Ref("url", ref, raw)
    return Ref("title", " ".join(ref.split()), raw)


def normalise_title(title: str) -> str:
    """Lowercase ASCII words of a title: accents, LaTeX markup, punctuation and case removed.

    "Certified Training: Small Boxes are All You Need." and "certified training - small boxes
    are all you need" normalise to the same string.
    """
    text = unicodedata.normalize("NFKD", title)
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    text = re.sub(r"\\[a-zA-Z]+\s*", " ", text)  # \ell, \textit, ...
    text = text.replace("ℓ", "l").lower()
    text = re.sub(r"[^a-z0-9]+", " ", text)
    return " ".join(text.split())


def title_similarity(a: str, b: str) -> float:
    """difflib ratio (0..1) of the normalised titles."""
    from difflib import SequenceMatcher

    na, nb = normalise_title(a), normalise_title(b)
    if not na or not nb:
        return 0.0
    return SequenceMatcher(None, na, nb, autojunk=False).ratio()
