"""Paper references as people write them, parsed into canonical identifiers.

A reference is a URL (arxiv.org, openreview.net, doi.org, a proceedings page), a prefixed id
(``arxiv:2210.04871``, ``doi:10.1109/ICCV.2019.00494``, ``openreview:Q76Y7wkiji``) or a title.
Canonical forms (from :mod:`curator.core.paperid`): arXiv ids without their version (``2210.04871``,
``cs/0501001``), DOIs lowercased (DOIs are case-insensitive by definition), OpenReview note ids
as given (they are case-sensitive).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from curator.core import paperid

_OPENREVIEW_ID = re.compile(r"^[A-Za-z0-9_-]{5,40}$")


def arxiv_id(ref: str) -> str | None:
    """The version-free arXiv id in ``ref`` (``arxiv:ID``, a bare id, an abs/pdf URL, an arXiv
    DOI), or None. See :func:`curator.core.paperid.arxiv_id`."""
    return paperid.arxiv_id(ref)


def doi(ref: str) -> str | None:
    """The DOI in ``ref`` (``doi:10.…``, ``https://doi.org/10.…``, a bare ``10.…/…``),
    lowercased (DOIs are case-insensitive), or None."""
    return paperid.doi_from_ref(ref)


def openreview_id(ref: str) -> str | None:
    """The note id in ``openreview:ID`` or an openreview.net forum/pdf URL (``?id=``), or None."""
    ref = ref.strip()
    if ref.lower().startswith("openreview:"):
        candidate = ref[11:].strip()
        return candidate if _OPENREVIEW_ID.match(candidate) else None
    return paperid.openreview_id_from_url(ref)


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


normalise_title = paperid.normalise_title

# Two titles name the same paper when their title_similarity is at least this: scraper title
# searches, `curator validate --online` and `curator enrich` all use it.
TITLE_MATCH_THRESHOLD = 0.9


def title_similarity(a: str, b: str) -> float:
    """difflib ratio (0..1) of the normalised titles."""
    from difflib import SequenceMatcher

    na, nb = normalise_title(a), normalise_title(b)
    if not na or not nb:
        return 0.0
    return SequenceMatcher(None, na, nb, autojunk=False).ratio()
